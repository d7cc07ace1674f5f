// hands_light: the stage goes dark and the picture below is lit only where the performers'
// hands are: a soft pool of light around each wrist that widens as the performer moves more,
// with a faint beam falling from above onto each hand through a little haze. A dimmer pool can
// follow the face. An effect on u_below, alpha 1.
//
// Uniforms:
//   ambient  0..1 light outside the pools; 0: darkness
//   radius   pool radius in screen heights (0.06..0.3); 0: 0.14
//   warmth   0..1 colour of the light, white (0) to tungsten amber (1)
//   head     0..1 brightness of a pool on each face; 0: none
//   beams    0..1 brightness of the beams from above; 0: none

uniform float ambient;
uniform float radius;
uniform float warmth;
uniform float head;
uniform float beams;

float pool(vec2 p, vec2 c, float r) {
    vec2 d = p - c;
    return exp(-dot(d, d) / (r * r));
}

float beam(vec2 p, vec2 hand, float r) {
    // a cone from high above the hand, wider at the bottom, fading upwards
    vec2 top = vec2(hand.x + (hand.x - 0.9) * 0.25, 1.15);
    vec2 ab = hand - top;
    float h = clamp(dot(p - top, ab) / dot(ab, ab), 0.0, 1.0);
    float w = r * (0.25 + 0.5 * h);
    float d = length(p - top - ab * h);
    return smoothstep(w, w * 0.3, d) * h * h;
}

void main() {
    float asp = aspect();
    vec2 p = vec2(v_uv.x * asp, v_uv.y);
    float R = radius > 0.0 ? radius : 0.14;
    float light = 0.0;
    float haze = 0.0;
    // a round per slot up to the last one present. llvmpipe (software GL)
    // pays for every round a loop runs, whatever an `if` inside says; a bound that depends on
    // u_people keeps the compiler from unrolling all MAX_PEOPLE rounds.
    int last = -1;
    for (int j = 0; j < MAX_PEOPLE; j++) {
        if (u_person[j].w > 0.5) last = j;
    }
    int rounds = max(last + 1, u_people);
    for (int k = 0; k < rounds; k++) {
        int i = min(k, MAX_PEOPLE - 1);
        vec4 person = u_person[i];
        float r = R * (0.8 + 0.7 * person.z);
        vec4 lw = joint(i, LEFT_WRIST), rw = joint(i, RIGHT_WRIST), nose = joint(i, NOSE);
        vec2 L = vec2(lw.x * asp, lw.y), Rw = vec2(rw.x * asp, rw.y);
        float on = step(0.5, person.w) * float(k < MAX_PEOPLE);
        float vl = smoothstep(0.2, 0.6, lw.w) * on, vr = smoothstep(0.2, 0.6, rw.w) * on;
        light += vl * pool(p, L, r) + vr * pool(p, Rw, r);
        light += head * smoothstep(0.2, 0.6, nose.w) * on * 0.6 * pool(p, vec2(nose.x * asp, nose.y), r * 0.8);
        haze += vl * beam(p, L, r) + vr * beam(p, Rw, r);
    }
    vec3 tone = mix(vec3(1.0, 0.98, 0.95), vec3(1.0, 0.72, 0.38), clamp(warmth, 0.0, 1.0));
    vec3 below = texture(u_below, v_uv).rgb;
    float lit = clamp(ambient + light * 1.3, 0.0, 1.6);
    vec3 col = below * tone * lit + tone * (haze * beams * 0.22 + light * 0.04);
    fragColor = vec4(col, 1.0);
}
