// expect: 0: fragment shader lacks `main'
// Compiles, but does not link: main is misspelled.

void mian() {
    fragColor = vec4(1.0);
}
