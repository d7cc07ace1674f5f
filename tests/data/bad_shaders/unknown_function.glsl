// expect: 7: no function with name 'nosie'
// A misspelled helper.

float noise(vec2 p) { return fract(sin(dot(p, vec2(12.9898, 78.233))) * 43758.5453); }

void main() {
    fragColor = vec4(vec3(nosie(v_uv * 40.0)), 1.0);
}
