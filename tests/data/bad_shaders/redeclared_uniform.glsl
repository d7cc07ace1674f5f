// expect: 4: `u_time' redeclared
// The prelude already declares the standard uniforms; a shader must not declare them again.

uniform float u_time;

void main() {
    fragColor = vec4(fract(u_time));
}
