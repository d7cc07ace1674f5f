// expect: 6: value of type vec3 cannot be assigned to variable of type vec4
// A vec3 where the output needs a vec4.

void main() {
    vec3 rgb = texture(u_camera, v_uv).rgb;
    fragColor = rgb;
}
