// A white disc on performer 1's right wrist (radius in screen heights), transparent elsewhere.
uniform float radius;

void main() {
    vec4 wrist = joint(0, RIGHT_WRIST);
    vec2 d = (v_uv - wrist.xy) * vec2(aspect(), 1.0);
    float inside = wrist.w > 0.5 && length(d) < radius ? 1.0 : 0.0;
    fragColor = vec4(vec3(1.0), inside);
}
