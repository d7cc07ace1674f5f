// expect: 5: no matching function for call to `mix(vec3, vec3)'
// mix needs three arguments.

void main() {
    vec3 c = mix(vec3(0.0), vec3(1.0));
    fragColor = vec4(c, 1.0);
}
