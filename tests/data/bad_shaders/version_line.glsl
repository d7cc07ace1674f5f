// expect: 2: remove this line: perform puts '#version 330 core' first
#version 330 core
// A shader written for a bare OpenGL program: perform adds the version and its prelude itself.

void main() {
    fragColor = vec4(1.0);
}
