// perform's standard uniforms, put before every shader of shaders/ (the user's line 1 stays line 1).
// Coordinates: v_uv is 0..1 with the origin at the bottom left (as gl_FragCoord); images are
// uploaded so that texture(u_camera, v_uv) is upright; joints use the same space as v_uv.
#define MAX_PEOPLE 4
#define JOINTS 33
#define HAND_JOINTS 21
#define FACE_POINTS 20

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
uniform vec4 u_hands[MAX_PEOPLE * 2 * HAND_JOINTS]; // pose.detail.hands: per slot, left then right hand: x, y, z, found 0/1
uniform vec4 u_face[MAX_PEOPLE * FACE_POINTS];      // pose.detail.face: per slot, the named face points: x, y, z, found 0/1
uniform vec4 u_hand_features[MAX_PEOPLE * 4];       // per slot and hand: the hand features 0..1 (handFeature)
uniform vec4 u_face_features[MAX_PEOPLE * 2];       // per slot: the face features 0..1 (faceFeature)

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

// hands (side: LEFT_HAND 0, RIGHT_HAND 1), face points and hand and face features (docs/hands-face.md)
#define LEFT_HAND 0
#define RIGHT_HAND 1
#define HAND_WRIST 0
#define HAND_THUMB_CMC 1
#define HAND_THUMB_MCP 2
#define HAND_THUMB_IP 3
#define HAND_THUMB_TIP 4
#define HAND_INDEX_MCP 5
#define HAND_INDEX_PIP 6
#define HAND_INDEX_DIP 7
#define HAND_INDEX_TIP 8
#define HAND_MIDDLE_MCP 9
#define HAND_MIDDLE_PIP 10
#define HAND_MIDDLE_DIP 11
#define HAND_MIDDLE_TIP 12
#define HAND_RING_MCP 13
#define HAND_RING_PIP 14
#define HAND_RING_DIP 15
#define HAND_RING_TIP 16
#define HAND_PINKY_MCP 17
#define HAND_PINKY_PIP 18
#define HAND_PINKY_DIP 19
#define HAND_PINKY_TIP 20
#define FACE_FOREHEAD 0
#define FACE_CHIN 1
#define FACE_NOSE_TIP 2
#define FACE_NOSE_BRIDGE 3
#define FACE_MOUTH_LEFT 4
#define FACE_MOUTH_RIGHT 5
#define FACE_UPPER_LIP 6
#define FACE_LOWER_LIP 7
#define FACE_LEFT_EYE_OUTER 8
#define FACE_LEFT_EYE_INNER 9
#define FACE_LEFT_EYE_TOP 10
#define FACE_LEFT_EYE_BOTTOM 11
#define FACE_RIGHT_EYE_OUTER 12
#define FACE_RIGHT_EYE_INNER 13
#define FACE_RIGHT_EYE_TOP 14
#define FACE_RIGHT_EYE_BOTTOM 15
#define FACE_LEFT_BROW 16
#define FACE_RIGHT_BROW 17
#define FACE_LEFT_CHEEK 18
#define FACE_RIGHT_CHEEK 19
#define HAND_F_PINCH 0
#define HAND_F_GRIP 1
#define HAND_F_OPENNESS 2
#define HAND_F_FINGERS 3
#define HAND_F_POINT_X 4
#define HAND_F_POINT_Y 5
#define HAND_F_POINT_ANGLE 6
#define FACE_F_MOUTH_OPEN 0
#define FACE_F_SMILE 1
#define FACE_F_BROWS_RAISED 2
#define FACE_F_LEFT_EYE_CLOSED 3
#define FACE_F_RIGHT_EYE_CLOSED 4
#define FACE_F_HEAD_YAW 5
#define FACE_F_HEAD_PITCH 6
#define FACE_F_HEAD_ROLL 7

vec4 joint(int person, int index) { return u_joints[person * JOINTS + index]; }
vec4 handJoint(int person, int side, int index) { return u_hands[(person * 2 + side) * HAND_JOINTS + index]; }
vec4 facePoint(int person, int index) { return u_face[person * FACE_POINTS + index]; }
float handFeature(int person, int side, int f) { return u_hand_features[(person * 2 + side) * 2 + f / 4][f % 4]; }
float faceFeature(int person, int f) { return u_face_features[person * 2 + f / 4][f % 4]; }
float aspect() { return u_resolution.x / u_resolution.y; }
// turns the hue of an RGB colour by `turns` (1: all the way round), about the grey axis
vec3 hueTurn(vec3 c, float turns) {
    float a = turns * 6.2831853;
    const vec3 k = vec3(0.57735027);
    float ca = cos(a);
    return c * ca + cross(k, c) * sin(a) + k * dot(k, c) * (1.0 - ca);
}
