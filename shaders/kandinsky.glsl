// kandinsky: a Kandinsky-like composition on warm paper that the performers play. Each present
// performer carries a ringed circle on one hand and a turning triangle on the other, joined by a
// black line; a small sun sits on the head and a chequered square on the body. Shapes grow with
// the performer's energy (u_person[i].z, at least stage energy). A few shapes stay put on the
// paper, also when nobody is on stage. A generator: alpha 1.
//
// Uniforms:
//   scale   size of every performer's shapes (0.5..2); 0: 1

uniform float scale;

const vec3 PAPER = vec3(0.93, 0.89, 0.80);
const vec3 RED = vec3(0.84, 0.17, 0.12);
const vec3 YELLOW = vec3(0.98, 0.79, 0.15);
const vec3 BLUE = vec3(0.11, 0.25, 0.62);
const vec3 BLACK = vec3(0.07, 0.06, 0.07);
const vec3 VIOLET = vec3(0.36, 0.22, 0.45);

float ipx;  // pixels per screen height: shapes' edges are a pixel wide

float hash12(vec2 p) {
    vec3 p3 = fract(p.xyx * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

float fill(float d) { return clamp(0.5 - d * ipx, 0.0, 1.0); }
float stroke(float d, float w) { return clamp(0.5 - (abs(d) - w * 0.5) * ipx, 0.0, 1.0); }

float sdCircle(vec2 p, vec2 c, float r) { return length(p - c) - r; }

float sdSegment(vec2 p, vec2 a, vec2 b) {
    vec2 pa = p - a, ba = b - a;
    float h = clamp(dot(pa, ba) / max(dot(ba, ba), 1e-8), 0.0, 1.0);
    return length(pa - ba * h);
}

float sdTriangle(vec2 p, vec2 c, float r, float angle) {
    p -= c;
    p = mat2(cos(angle), -sin(angle), sin(angle), cos(angle)) * p;
    const float k = 1.7320508;
    p.x = abs(p.x) - r;
    p.y = p.y + r / k;
    if (p.x + k * p.y > 0.0) p = vec2(p.x - k * p.y, -k * p.x - p.y) / 2.0;
    p.x -= clamp(p.x, -2.0 * r, 0.0);
    return -length(p) * sign(p.y);
}

// paint opaque, or glaze (multiply: overlapping colours mix like transparent paint)
void paint(inout vec3 col, vec3 c, float a) { col = mix(col, c, a); }
void glaze(inout vec3 col, vec3 c, float a) { col = mix(col, col * c * 1.08, a); }

void main() {
    float asp = aspect();
    ipx = u_resolution.y;
    vec2 p = vec2(v_uv.x * asp, v_uv.y);
    float s = scale > 0.0 ? scale : 1.0;
    float t = u_time;

    // On llvmpipe (software GL) every shape costs every pixel, whatever branches say, so the
    // shapes are few and each is cheap: about 1 ms each at 1280x720.

    // paper with a faint fibre grain, darker towards its edges
    vec3 col = PAPER * (0.95 + 0.05 * hash12(floor(gl_FragCoord.xy * 0.7)));
    vec2 e = v_uv * (1.0 - v_uv);
    col *= 0.8 + 0.2 * sqrt(sqrt(clamp(e.x * e.y * 16.0, 0.0, 1.0)));

    // the paper's own shapes: a dark circle in a blue halo, two long lines, a yellow arc,
    // a red triangle, two overlapping circles
    float db = length(p - vec2(0.16 * asp, 0.76));
    glaze(col, vec3(0.55, 0.68, 0.95), clamp((0.24 - db) * 7.0, 0.0, 1.0) * 0.8);
    paint(col, mix(BLACK * 1.4, VIOLET, fill(db - 0.035)), fill(db - 0.095));
    paint(col, BLACK, stroke(sdSegment(p, vec2(0.05 * asp, 0.12), vec2(0.97 * asp, 0.62)), 0.004));
    paint(col, BLACK, stroke(sdSegment(p, vec2(0.62 * asp, 0.98), vec2(0.88 * asp, 0.04)), 0.0025));
    vec2 arcC = vec2(0.86 * asp, 0.22);
    float arcA = step(0.0, p.y - arcC.y + 0.3 * (p.x - arcC.x));
    paint(col, YELLOW, stroke(sdCircle(p, arcC, 0.12), 0.018) * arcA);
    glaze(col, RED, fill(sdTriangle(p, vec2(0.45 * asp, 0.9), 0.045, 0.3)) * 0.85);
    vec2 cl = vec2(0.30 * asp, 0.26);
    glaze(col, BLUE * 1.6, fill(sdCircle(p, cl, 0.05)) * 0.8);
    glaze(col, RED * 1.2, fill(sdCircle(p, cl + vec2(0.045, 0.035), 0.032)) * 0.85);

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
        if (person.w > 0.5 && k < MAX_PEOPLE) {
            float grow = s * (0.7 + 1.3 * max(person.z, u_energy));
            // each performer gets the palette turned one step on
            vec3 c1 = i == 1 ? RED : (i == 2 ? BLUE : (i == 3 ? VIOLET : YELLOW));
            vec3 c2 = i == 1 ? BLUE : (i == 2 ? YELLOW : RED);
            vec3 c3 = i == 1 ? YELLOW : (i == 2 ? RED : BLUE);

            vec4 lw = joint(i, LEFT_WRIST), rw = joint(i, RIGHT_WRIST), nose = joint(i, NOSE);
            vec4 ls = joint(i, LEFT_SHOULDER), rs = joint(i, RIGHT_SHOULDER);
            vec2 L = vec2(lw.x * asp, lw.y), R = vec2(rw.x * asp, rw.y);
            vec2 C = vec2(person.x * asp, mix(person.y, 0.5 * (ls.y + rs.y), 0.4));

            // a chequered square on the body, tilted
            float sq = 0.055 * grow;
            vec2 q = mat2(0.9689, -0.2474, 0.2474, 0.9689) * (p - C);  // 0.25 rad
            float box = max(abs(q.x), abs(q.y)) - sq;
            vec2 cell = floor(q / sq * 2.0);
            glaze(col, mod(cell.x + cell.y, 2.0) > 0.5 ? c3 : vec3(1.0), fill(box) * 0.9);
            paint(col, BLACK, stroke(box, 0.003));

            // a line from hand to hand, overshooting both
            vec2 d = (L - R) * 0.25;
            paint(col, BLACK, stroke(sdSegment(p, R - d, L + d), 0.005) * step(0.3, min(lw.w, rw.w)));

            // a small sun on the head: a black disc, a coloured core, in a glazed ring
            float dh = length(p - vec2(nose.x * asp, nose.y + 0.04));
            float rh = 0.03 * grow;
            float vh = step(0.3, nose.w);
            glaze(col, c2, fill(dh - rh * 1.9) * 0.55 * vh);
            paint(col, mix(BLACK, c2, fill(dh - rh * 0.45)), fill(dh - rh) * vh);

            // right hand: a triangle turning with the time, outlined, a dot at its heart
            float dt = sdTriangle(p, R, 0.075 * grow, t * 0.5 + float(i) * 1.7);
            float vr = step(0.3, rw.w);
            glaze(col, c2, fill(dt) * 0.92 * vr);
            paint(col, BLACK, max(stroke(dt, 0.003), fill(length(p - R) - 0.009 * grow)) * vr);

            // left hand: concentric circles in a halo, swelling on the beat
            float rc = 0.07 * grow * (1.0 + 0.08 * u_beat);
            float dl = length(p - L);
            float vl = step(0.3, lw.w);
            glaze(col, mix(c3, vec3(1.0), 0.45), clamp((rc * 1.9 - dl) / (rc * 0.85), 0.0, 1.0) * 0.8 * vl);
            vec3 rings = mix(c3, c1, fill(dl - rc * 0.72));
            rings = mix(rings, BLACK, stroke(dl - rc * 0.72, 0.0025));
            rings = mix(rings, c2, fill(dl - rc * 0.38));
            paint(col, rings, fill(dl - rc) * vl);
        }
    }

    fragColor = vec4(col, 1.0);
}
