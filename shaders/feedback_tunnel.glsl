// feedback_tunnel: an endless tunnel of echoes. Each frame this layer's last picture shrinks
// towards a centre, turns a little and shifts hue, and the bright parts of the picture below
// (a silhouette, a skeleton) are laid on top, the brighter winning: the performer falls away into the distance over
// and over, in rings of changing colour. The mask's outline can feed the tunnel as well.
// An effect on u_below with feedback, alpha 1: best over a dark picture.
//
// Uniforms:
//   zoom    how fast echoes fall away, per frame (0.01 slow .. 0.08 fast; negative: they fly
//           out towards the audience); 0: 0.03
//   twist   turn per frame in radians (-0.05..0.05); 0: none
//   hue     hue turn per frame in turns (0.003..0.02 gives rainbow rings); 0: echoes keep their colour
//   decay   0..0.99 brightness an echo keeps per frame; 0: 0.95
//   follow  0..1 the tunnel's centre moves from the middle of the screen (0) to the performers' centre (1)
//   tint    0..1 how fast echoes take on the colour of the moment (a hue cycling every 3 s), so
//           white silhouettes fall away in rainbow rings; 0: 0.15 (set 0.001 for none)
//   outline 0..1 brightness of the mask's outline fed into the tunnel, in turning colours; 0: none

uniform float zoom;
uniform float twist;
uniform float hue;
uniform float decay;
uniform float follow;
uniform float outline;
uniform float tint;

void main() {
    float asp = aspect();
    vec2 sc = vec2(asp, 1.0);

    // the centre: the middle of the screen, or of the performers present
    vec2 people = vec2(0.0);
    float n = 0.0;
    for (int i = 0; i < MAX_PEOPLE; i++) {
        if (u_person[i].w > 0.5) {
            people += u_person[i].xy;
            n += 1.0;
        }
    }
    vec2 c = vec2(0.5);
    if (n > 0.0) c = mix(c, people / n + vec2(0.0, 0.1), clamp(follow, 0.0, 1.0));

    // last frame, shrunk towards the centre and turned
    float z = 1.0 + (zoom != 0.0 ? zoom : 0.03);
    float tw = twist;
    vec2 p = (v_uv - c) * sc * z;
    p = mat2(cos(tw), sin(tw), -sin(tw), cos(tw)) * p;
    vec2 at = c + p / sc;
    vec3 echo = texture(u_previous, at).rgb;
    // beyond the edge there is nothing to fall in (no smeared border)
    vec2 inside = step(vec2(0.0), at) * step(at, vec2(1.0));
    echo *= inside.x * inside.y;
    if (hue != 0.0) echo = max(hueTurn(echo, hue), 0.0);
    vec3 now = 0.55 + 0.45 * cos(6.2831853 * (u_time * 0.33 + vec3(0.0, 0.33, 0.67)));
    float l = dot(echo, vec3(0.299, 0.587, 0.114));
    echo = mix(echo, l * now * 1.25, tint > 0.0 ? clamp(tint, 0.0, 1.0) : 0.15);
    float d = decay > 0.0 ? clamp(decay, 0.0, 0.99) : 0.95;
    echo = max(echo * d - 1.5 / 255.0, 0.0);

    // the new picture over the echoes: the brighter wins (the performer's dark edges and
    // clothes do not cut holes into the echoes)
    vec3 below = texture(u_below, v_uv).rgb;
    float key = smoothstep(0.05, 0.3, max(below.r, max(below.g, below.b)));
    vec3 col = mix(max(echo, below), below, key * key);

    // the mask's outline, in a colour that turns with time
    vec2 o = vec2(3.0 / u_resolution.y) * vec2(1.0 / asp, 1.0);
    float m0 = texture(u_mask, v_uv).r;
    vec2 grad = vec2(texture(u_mask, v_uv + vec2(o.x, 0.0)).r, texture(u_mask, v_uv + vec2(0.0, o.y)).r) - m0;
    float edge = clamp(length(grad) * 3.0, 0.0, 1.0);
    col = max(col, now * edge * clamp(outline, 0.0, 1.0));
    fragColor = vec4(col, 1.0);
}
