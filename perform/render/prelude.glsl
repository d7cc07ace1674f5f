// perform's standard uniforms, put before every shader of shaders/ (the user's line 1 stays line 1).
// Coordinates: v_uv is 0..1 with the origin at the bottom left (as gl_FragCoord); images are
// uploaded so that texture(u_camera, v_uv) is upright; joints use the same space as v_uv.
#define MAX_PEOPLE 4
#define JOINTS 33

in vec2 v_uv;
out vec4 fragColor;

uniform float u_time;                      // seconds since the scene started showing
uniform float u_show_time;                 // seconds since the show started
uniform float u_delta;                     // seconds since the previous frame (frame-rate independent decay)
uniform vec2 u_resolution;                 // output size in pixels
uniform sampler2D u_below;                 // the picture of the layers below this one
uniform sampler2D u_camera;                // newest camera image
uniform sampler2D u_styled;                // newest stylised image (the camera image when style is off)
uniform sampler2D u_mask;                  // person mask in .r, 0..1 (0 when masks are off)
uniform sampler2D u_previous;              // this layer's own output of the previous frame (feedback)
uniform int u_people;                      // performers on stage
uniform vec4 u_joints[MAX_PEOPLE * JOINTS];// per performer slot 1..4: x, y (0..1, as v_uv), z, visibility (0: absent)
uniform vec4 u_person[MAX_PEOPLE];         // per slot: centre x, centre y, energy 0..1, present 0/1
uniform float u_energy;                    // stage energy 0..1
uniform float u_audio_level;               // 0..1
uniform float u_audio_bands[8];            // 0..1, low to high
uniform float u_beat;                      // 1 on a beat, decaying to 0 over 0.25 s
uniform float u_beat_phase;                // 0..1 through the current beat

#define NOSE 0
#define LEFT_SHOULDER 11
#define RIGHT_SHOULDER 12
#define LEFT_ELBOW 13
#define RIGHT_ELBOW 14
#define LEFT_WRIST 15
#define RIGHT_WRIST 16
#define LEFT_HIP 23
#define RIGHT_HIP 24
#define LEFT_KNEE 25
#define RIGHT_KNEE 26
#define LEFT_ANKLE 27
#define RIGHT_ANKLE 28

vec4 joint(int person, int index) { return u_joints[person * JOINTS + index]; }
float aspect() { return u_resolution.x / u_resolution.y; }
// turns the hue of an RGB colour by `turns` (1: all the way round), about the grey axis
vec3 hueTurn(vec3 c, float turns) {
    float a = turns * 6.2831853;
    const vec3 k = vec3(0.57735027);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}
