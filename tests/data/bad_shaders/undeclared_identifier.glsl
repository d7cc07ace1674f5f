// expect: 5: `brightness' undeclared
// A uniform used but never declared.

void main() {
    fragColor = vec4(vec3(brightness), 1.0);
}
