// Grey level from whole-number uniforms (scene files write every number as a float).
uniform int level;
uniform bool on;

void main() {
    fragColor = vec4(vec3(on ? float(level) / 255.0 : 0.0), 1.0);
}
