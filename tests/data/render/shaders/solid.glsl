// One colour over the whole picture, alpha included: the known input of the blend tests.
uniform vec4 colour;

void main() {
    fragColor = colour;
}
