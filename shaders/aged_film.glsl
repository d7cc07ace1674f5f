// aged_film: the picture below as a worn print on an old projector: sepia tone, grain, flicker,
// gate weave, vertical scratches that come and go, dust and hairs, a dark vignette.
// An effect: reads u_below, alpha 1.
//
// Uniforms:
//   amount  0..1  how old the film looks (1: very). 0 leaves the picture untouched, so a scene
//                 sets it, or binds it to fade the film look in and out.
//   fps     grain, dust, flicker and weave change this many times a second; 0: 18 (hand-cranked)

uniform float amount;
uniform float fps;

float hash11(float p) {
    p = fract(p * 0.1031);
    p *= p + 33.33;
    p *= p + p;
    return fract(p);
}

float hash12(vec2 p) {
    vec3 p3 = fract(p.xyx * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

void main() {
    float a = clamp(amount, 0.0, 1.0);
    float rate = fps > 0.0 ? fps : 18.0;
    float frame = floor(u_time * rate);

    // gate weave: the whole frame jumps a little, mostly up and down
    vec2 weave = vec2(hash11(frame) - 0.5, hash11(frame + 17.0) - 0.5) * vec2(0.0015, 0.004);
    vec3 src = texture(u_below, v_uv + weave * a).rgb;

    // sepia: desaturate, lift the blacks, roll off the whites, tone brown to cream
    float l = dot(src, vec3(0.299, 0.587, 0.114));
    l = smoothstep(-0.05, 1.05, l);
    vec3 film = mix(vec3(0.10, 0.06, 0.03), vec3(1.0, 0.90, 0.70), l);
    film = mix(film, vec3(l), 0.25);

    // flicker: the lamp's brightness changes from frame to frame, and drifts slowly
    film *= 1.0 + 0.12 * (hash11(frame * 3.1) - 0.5) + 0.04 * sin(u_time * 7.0);

    // grain: about 2 pixels at 720 lines, strongest in the mid-tones
    vec2 cell = floor(gl_FragCoord.xy / max(1.0, u_resolution.y / 360.0));
    float grain = hash12(cell + fract(frame * 0.6180339) * 1000.0) - 0.5;
    film += grain * 0.22 * (0.35 + l * (1.0 - l) * 2.6);

    // vertical scratches: up to three at a time, each lives for a moment and wanders a little
    float px = 1.0 / u_resolution.x;
    for (int i = 0; i < 3; i++) {
        float fi = float(i);
        float epoch = floor(u_time * 0.9 + fi * 0.37) + fi * 13.0;
        if (hash11(epoch * 7.1) < 0.35) {
            continue;
        }
        float x = hash11(epoch * 3.7 + 1.0) + 0.004 * sin(u_time * 2.3 + fi * 5.0)
            + (hash11(frame + fi * 31.0) - 0.5) * 0.0015;
        float d = abs(v_uv.x - x) / px;
        float width = 0.6 + 1.4 * hash11(epoch * 1.3 + 4.0);
        float line = smoothstep(width + 1.0, width * 0.3, d);
        // broken along its length, and breaking differently every frame
        float gap = hash12(vec2(floor(v_uv.y * 9.0), frame + fi * 7.0));
        line *= smoothstep(0.15, 0.35, gap);
        float bright = step(0.5, hash11(epoch * 5.3 + 2.0));
        film = mix(film, bright > 0.5 ? vec3(0.95, 0.92, 0.82) : vec3(0.08, 0.06, 0.04),
                   line * (0.35 + 0.45 * a));
    }

    // dust and hairs: a few specks per frame on a grid of cells about 1/14 of the height
    vec2 p = vec2(v_uv.x * aspect(), v_uv.y) * 14.0;
    vec2 id = floor(p);
    float h = hash12(id + frame * 13.17);
    if (h > 0.985 - 0.02 * a) {
        vec2 f = fract(p) - 0.5;
        vec2 c = vec2(hash12(id + 3.1), hash12(id + 7.7)) * 0.5 - 0.25;
        float r = 0.02 + 0.10 * hash12(id + frame);
        // stretch some specks into short hairs, turned any way
        vec2 dir = normalize(vec2(hash12(id * 1.7 + frame), hash12(id * 2.3 + frame)) - 0.5 + 1e-4);
        vec2 q = mat2(dir.x, -dir.y, dir.y, dir.x) * (f - c);
        q.x *= h > 0.993 ? 0.15 : 1.0;
        q.y += h > 0.993 ? 0.8 * q.x * q.x : 0.0;
        float speck = smoothstep(r, r * 0.4, length(q));
        film = mix(film, hash11(h * 91.0) > 0.3 ? vec3(0.05, 0.04, 0.03) : vec3(0.95), speck * 0.9);
    }

    // vignette: the lamp lights the middle best
    vec2 e = v_uv * (1.0 - v_uv);
    float vig = sqrt(sqrt(clamp(e.x * e.y * 16.0, 0.0, 1.0)));
    film *= mix(0.25, 1.0, vig);

    fragColor = vec4(mix(src, clamp(film, 0.0, 1.0), a), 1.0);
}
