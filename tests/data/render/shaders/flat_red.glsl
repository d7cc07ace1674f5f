// Opaque red, no uniforms: the good version of the hot reload test's shader.
void main() {
    fragColor = vec4(1.0, 0.0, 0.0, 1.0);
}
