// silhouette_glow: a soft halo of light around every performer's silhouette (the person mask),
// hot and whitish at the body's edge, fading into colour further out. The halo swells and
// brightens on every beat; with flicker it licks upwards like a flame. 70% of the last frame's
// glow stays, so a fast move leaves a brief afterglow. Inside the silhouette it is clear (or filled with the colour, with `inside`), so a mask or camera layer below shows.
// Alpha is the glow: put it over anything, or blend: add.
//
// Uniforms:
//   colour     RGB 0..1 of the glow; 0,0,0: cool blue (0.35, 0.65, 1.0)
//   radius     reach of the glow in screen heights (0.02..0.12); 0: 0.05
//   intensity  brightness (0.5..3); 0: 1
//   inside     0..1 how much the silhouette itself is filled with the colour; 0: not at all
//   flicker    0..1 flame-like movement of the halo, rising; 0: steady

uniform vec3 colour;
uniform float radius;
uniform float intensity;
uniform float inside;
uniform float flicker;

float hash12(vec2 p) {
    vec3 p3 = fract(p.xyx * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

void main() {
    vec3 c = dot(colour, vec3(1.0)) > 0.0 ? colour : vec3(0.35, 0.65, 1.0);
    float r = (radius > 0.0 ? radius : 0.05) * (1.0 + 0.35 * u_beat);
    float gain = (intensity > 0.0 ? intensity : 1.0) * (1.0 + 0.6 * u_beat);
    vec2 unit = vec2(1.0 / aspect(), 1.0);

    // flames: look for the body a little lower and to the side, more so further out
    float fl = clamp(flicker, 0.0, 1.0);
    vec2 q = vec2(v_uv.x * aspect() * 40.0, v_uv.y * 25.0 - u_time * 7.0);
    vec2 wave = vec2(sin(q.y + 2.0 * sin(q.x * 0.37)), 0.6 + sin(q.x + 1.7 * sin(q.y * 0.53)));
    vec2 uv = v_uv - wave * unit * r * 0.6 * fl;

    float m0 = texture(u_mask, v_uv).r;
    // 6 taps on a golden-angle spiral over the disc, the spiral turned per pixel (interleaved
    // gradient noise) and per frame; with 70% of the last frame kept (below) the few taps average into a soft halo
    // instead of grain (taps are dear on llvmpipe: about 2 ms each at 1280x720)
    float ign = fract(52.9829189 * fract(dot(gl_FragCoord.xy, vec2(0.06711056, 0.00583715))));
    float turn = fract(ign + floor(u_time * 60.0) * 0.618034) * 6.2831853;
    mat2 rot = mat2(cos(turn), sin(turn), -sin(turn), cos(turn));
    float sum = 0.0;
    float wsum = 0.0;
    for (int k = 0; k < 6; k++) {
        float fk = float(k) + 0.5;
        float rr = sqrt(fk / 6.0);
        float ang = fk * 2.3999632;
        float w = 1.1 - rr;
        sum += w * texture(u_mask, uv + rot * vec2(cos(ang), sin(ang)) * (rr * r) * unit).r;
        wsum += w;
    }
    float g = sum / wsum;

    // outside: the halo, white-hot near the body; inside: clear or filled with the colour
    float halo = g * (1.0 - m0);
    float a = 1.0 - exp(-halo * 4.5 * gain);
    float fillIn = clamp(inside, 0.0, 1.0);
    a = max(a, m0 * fillIn);
    float hot = smoothstep(0.2, 0.55, halo * gain) + 0.25 * u_beat;
    vec3 col = mix(c, vec3(1.0), clamp(hot, 0.0, 1.0) * (1.0 - m0 * fillIn));

    // 70% of the last frame's glow stays: the random taps average out over frames (a smooth
    // halo, not grain), and a fast move leaves a brief afterglow
    vec4 prev = texture(u_previous, v_uv);
    vec4 pm = mix(vec4(prev.rgb * prev.a, prev.a), vec4(col * a, a), 0.3);
    fragColor = vec4(pm.a > 0.0 ? pm.rgb / pm.a : col, pm.a);
}
