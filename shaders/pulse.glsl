// pulse: the music made visible around the bodies. Around every performer's chest a circular
// spectrum: 48 spokes whose length follows the 8 audio bands (bass at the top, treble at the
// bottom, mirrored left and right); rings ripple outwards from the body with the bass, and each
// beat sends a bright shock ring out across the stage. Nobody on stage: one halo in the middle.
// Without sound (audio off or silent) the spokes and ripples follow the performer's energy
// instead, so the scene still lives in a rehearsal without music. Light on transparent: alpha is the light, so lay it over a picture (normal or add).
//
// Uniforms:
//   colour  RGB 0..1 of the light; 0,0,0: bass in magenta, mid in orange, treble in cyan
//   gain    audio level multiplier (0.5..4, for quiet rooms); 0: 1
//   size    halo size in screen heights (0.1..0.4); 0: 0.16

uniform vec3 colour;
uniform float gain;
uniform float size;

float band(float x) {  // the 8 bands read as a smooth curve, x in 0..1 (low to high)
    float f = clamp(x, 0.0, 1.0) * 7.0;
    int i = int(floor(f));
    int j = min(i + 1, 7);
    return mix(u_audio_bands[i], u_audio_bands[j], f - float(i));
}

vec3 palette(float x) {  // 0 bass .. 1 treble
    vec3 a = mix(vec3(1.0, 0.15, 0.55), vec3(1.0, 0.55, 0.1), clamp(x * 2.0, 0.0, 1.0));
    return mix(a, vec3(0.2, 0.85, 1.0), clamp(x * 2.0 - 0.9, 0.0, 1.0));
}

vec3 halo(vec2 p, vec2 c, float R, float g, float seed, float energy, float silent) {
    vec2 d = p - c;
    float r = length(d);
    // angle from the top (0) to the bottom (1), the same on both sides
    float side = abs(atan(d.x, d.y)) / 3.1415927;
    vec3 light = vec3(0.0);

    // spokes: 24 per side, each as long as its band is loud
    float k = floor(side * 24.0);
    float x = (k + 0.5) / 24.0;
    float moving = energy * (0.55 + 0.45 * sin(x * 19.0 + u_time * 3.0 + seed));
    float level = clamp(mix(band(x) * g, moving, silent), 0.0, 1.2);
    float across = abs(fract(side * 24.0) - 0.5) * 2.0;  // 0 in the spoke's middle
    float inner = R * 0.55;
    float outer = inner + R * (0.08 + 0.9 * level);
    float spoke = clamp((1.0 - across) * 2.5, 0.0, 1.0) * clamp((r - inner) * 250.0 + 1.0, 0.0, 1.0)
        * clamp((outer - r) * 100.0, 0.0, 1.0);
    light += spoke * mix(palette(x), vec3(1.0), 0.25 * level) * (0.5 + 0.7 * level);

    // a thin circle where the spokes begin
    light += clamp(1.0 - abs(r - inner * 0.92) * 300.0, 0.0, 1.0) * 0.6 * palette(0.2);

    // bass ripples moving outwards, fading with distance
    float bass = clamp(mix(0.5 * (u_audio_bands[0] + u_audio_bands[1]) * g, energy, silent), 0.0, 1.0);
    float wave = 0.5 + 0.5 * sin((r - u_time * 0.18) * 38.0 + seed);
    wave *= wave;
    wave *= wave;
    wave *= wave;  // a sharp crest: the sine to the 8th
    light += wave * bass * clamp(1.0 - (r - inner) * 2.5, 0.0, 1.0) * step(inner, r) * palette(0.0) * 0.6;

    // the beat's shock ring
    float br = inner + u_beat_phase * 0.9;
    float shock = clamp(1.0 - abs(r - br) * 40.0, 0.0, 1.0);
    light += shock * shock * u_beat * (0.6 + 0.6 * bass) * vec3(1.0, 0.9, 0.95);
    return light;
}

void main() {
    float asp = aspect();
    vec2 p = vec2(v_uv.x * asp, v_uv.y);
    float g = gain > 0.0 ? gain : 1.0;
    float R = size > 0.0 ? size : 0.16;
    float silent = step(u_audio_level + u_audio_bands[0] + u_audio_bands[1] + u_audio_bands[4], 0.0);

    // a round per slot up to the last one present (at least one: the empty stage). llvmpipe
    // (software GL) pays for every round a loop runs, whatever an `if` inside says; a bound
    // that depends on u_people keeps the compiler from unrolling all MAX_PEOPLE rounds.
    int last = -1;
    for (int j = 0; j < MAX_PEOPLE; j++) {
        if (u_person[j].w > 0.5) last = j;
    }
    int rounds = max(max(last + 1, 1), u_people);
    vec3 light = vec3(0.0);
    for (int k = 0; k < rounds; k++) {
        int i = min(k, MAX_PEOPLE - 1);
        vec4 person = u_person[i];
        // the chest: between the hip centre and the shoulders; nobody: the middle, larger
        vec4 ls = joint(i, LEFT_SHOULDER), rs = joint(i, RIGHT_SHOULDER);
        vec2 chest = mix(person.xy, 0.5 * (ls.xy + rs.xy), 0.6 * step(0.3, min(ls.w, rs.w)));
        bool empty = last < 0;
        vec2 c = empty ? vec2(0.5 * asp, 0.5) : vec2(chest.x * asp, chest.y);
        float r = empty ? R * 1.3 : R * (0.8 + 0.4 * person.z);
        float present = (empty ? 1.0 : step(0.5, person.w)) * float(k < MAX_PEOPLE);
        light += present * halo(p, c, r, g, float(i) * 2.0, empty ? u_energy : person.z, silent);
    }

    if (dot(colour, vec3(1.0)) > 0.0) light = dot(light, vec3(0.333)) * colour * 1.6;
    // straight alpha: the light's strength is its coverage, its hue the colour
    float a = clamp(max(light.r, max(light.g, light.b)), 0.0, 1.0);
    fragColor = vec4(a > 0.0 ? min(light / max(a, 1e-4), 1.0) : vec3(0.0), a);
}
