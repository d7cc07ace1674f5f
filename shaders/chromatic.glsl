// chromatic: the picture below splits into its red, green and blue images, pushed apart from the
// middle of the screen outwards like a cheap lens; with glitch, horizontal slices jump sideways
// (which slices changes 8 times a second) and the split flares. Bind amount to energy (the harder
// the performers move, the more the picture tears) and glitch to an event pulse (event:jump) or
// audio.onset. An effect on u_below, alpha 1.
//
// Uniforms:
//   amount  0..1 how far red and blue move apart, 1: 3% of the screen height at its edge; 0: none
//   glitch  0..1 slices jumping sideways now; 0: none
//   beat    0..1 glitch on every audio beat as well (u_beat); 0: none

uniform float amount;
uniform float glitch;
uniform float beat;

float hash11(float p) {
    p = fract(p * 0.1031);
    p *= p + 33.33;
    p *= p + p;
    return fract(p);
}

void main() {
    float asp = aspect();
    float kick = clamp(max(glitch, beat * u_beat), 0.0, 1.0);
    vec2 uv = v_uv;

    // slices: 30 bands, a fifth of them moved while kicked, different ones 8 times a second
    float moment = floor(u_show_time * 8.0);
    float row = floor(v_uv.y * 30.0);
    float pick = hash11(row * 7.13 + moment * 1.7);
    float shift = step(0.8, pick) * (hash11(row + moment * 3.3) - 0.5) * 0.12 * kick;
    uv.x += shift;

    vec2 d = (uv - 0.5) * vec2(asp, 1.0);
    float s = (clamp(amount, 0.0, 1.0) * 0.03 + kick * 0.02) * length(d) / 0.5;
    vec2 dir = d / max(length(d), 1e-5) / vec2(asp, 1.0);
    vec3 col;
    col.r = texture(u_below, uv + dir * s).r;
    col.g = texture(u_below, uv).g;
    col.b = texture(u_below, uv - dir * s).b;
    // a moved slice is a little brighter, like a bad tape
    col *= 1.0 + abs(shift) * 3.0;
    fragColor = vec4(col, 1.0);
}
