// kaleidoscope: the picture below (or the camera) cut into mirrored wedges around a centre, the
// mirrors turning slowly while the picture inside slides the other way; a performer moving
// anywhere in view becomes a turning mandala. An effect, alpha 1.
//
// Uniforms:
//   segments  number of wedge pairs (mirror symmetry), 2..16; 0: 6
//   spin      turns per minute of the mirrors; negative turns the other way; 0: 0.5
//   zoom      0.5..3; more shows less of the picture, larger; 0: 1
//   camera    0..1 mirror the camera image instead of the picture below (0: below, 1: camera)
//   centre    vec2 in v_uv of the kaleidoscope's centre; 0,0: the middle of the screen
//   follow    0..1 the picture is taken from around the centre (0) or around the performers (1,
//             their mean centre, a little above the hips), so they stay in the mandala wherever
//             they stand; 0: around the centre

uniform float segments;
uniform float spin;
uniform float zoom;
uniform float camera;
uniform vec2 centre;
uniform float follow;

void main() {
    float asp = aspect();
    vec2 c = centre == vec2(0.0) ? vec2(0.5) : centre;
    float n = segments > 0.0 ? max(2.0, floor(segments + 0.5)) : 6.0;
    float turns = (spin != 0.0 ? spin : 0.5) / 60.0 * u_time;
    float z = zoom > 0.0 ? zoom : 1.0;

    vec2 p = (v_uv - c) * vec2(asp, 1.0);
    float r = length(p);
    float a = atan(p.y, p.x) + turns * 6.2831853;
    float wedge = 6.2831853 / n;
    a = mod(a, wedge);
    a = min(a, wedge - a);  // mirror within the wedge
    // the picture inside the wedge slides against the mirrors' turn
    a -= turns * 6.2831853 * 1.6 - 1.5707963;
    vec2 q = vec2(cos(a), sin(a)) * r / z;
    // where the picture is taken from: the centre, or the performers
    vec2 people = vec2(0.0);
    float present = 0.0;
    for (int i = 0; i < MAX_PEOPLE; i++) {
        float on = step(0.5, u_person[i].w);
        people += on * (u_person[i].xy + vec2(0.0, 0.12));
        present += on;
    }
    vec2 from = present > 0.0 ? mix(c, people / max(present, 1.0), clamp(follow, 0.0, 1.0)) : c;
    vec2 uv = from + q / vec2(asp, 1.0);
    uv = 1.0 - abs(1.0 - mod(uv, 2.0));  // mirrored repeat instead of smeared edges

    vec3 col = mix(texture(u_below, uv).rgb, texture(u_camera, uv).rgb, clamp(camera, 0.0, 1.0));
    col *= 1.0 + 0.15 * exp(-r * 6.0);  // a little light gathers in the middle
    fragColor = vec4(col, 1.0);
}
