// expect: 6: syntax error, unexpected IDENTIFIER, expecting ',' or ';'
// A missing semicolon: the compiler notices on the next line.

void main() {
    vec4 c = texture(u_below, v_uv)
    fragColor = c;
}
