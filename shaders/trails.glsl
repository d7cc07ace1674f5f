// trails: everything that moves leaves a fading trail. The picture below is laid over this
// layer's own last frame, dimmed (lighten: the brighter wins), so made for dark pictures:
// skeletons, particles, silhouettes on black. Trails can drift (rise like smoke), soften, and
// turn through the hues as they age (rainbow trails). An effect on u_below with feedback, alpha 1.
//
// Uniforms:
//   decay  0..0.99 share of a trail's brightness kept each frame (0.85 short .. 0.97 long);
//          0: no trails (the picture below unchanged). Per frame, so at 30 fps 0.9 halves in 7 frames.
//   drift  vec2, how far trails move each frame in pixels at 720 lines (0, 1.5: rising); 0,0: still
//   hue    hue turn of a trail per frame, in turns (0.005: a slow rainbow); 0: trails keep their colour
//   blur   0..1 trails soften as they age (smoke); 0: they stay sharp

uniform float decay;
uniform vec2 drift;
uniform float hue;
uniform float blur;

void main() {
    vec4 below = texture(u_below, v_uv);
    float d = clamp(decay, 0.0, 0.99);
    vec2 texel = 1.0 / u_resolution;
    vec2 at = v_uv - drift * (u_resolution.y / 720.0) * texel;
    // two taps either side on a diagonal: a small blur each frame that adds up as a trail ages
    vec2 spread = texel * clamp(blur, 0.0, 1.0);
    vec3 prev = 0.5 * (texture(u_previous, at + spread).rgb + texture(u_previous, at - spread).rgb);
    if (hue != 0.0) prev = max(hueTurn(prev, hue), 0.0);
    // dim by the share, and by 1.5/255 more so an 8-bit trail fades all the way to black
    prev = max(prev * d - 1.5 / 255.0, 0.0);
    fragColor = vec4(max(below.rgb, prev), 1.0);
}
