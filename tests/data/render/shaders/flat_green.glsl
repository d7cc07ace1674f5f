// Opaque green, no uniforms: the fixed version of the hot reload test's shader.
void main() {
    fragColor = vec4(0.0, 1.0, 0.0, 1.0);
}
