"""A virtual performer: procedural, plausible skeletons for demos and tests, deterministic by seed.

People walk on and off a 5 m wide stage, cross each other, raise their arms, jump, spin and
crouch. Each is a small kinematic body (segment lengths scaled to a height of 1.55-1.95 m)
seen by a pinhole camera 5 m in front of the stage at 1.5 m, so the landmarks look as
MediaPipe reports them: normalised image coordinates, metres around the hips, visibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perform.vision.types import LM, NUM_LANDMARKS, Detection

OFFSTAGE_X = 3.8
CAMERA_HEIGHT = 1.5
CAMERA_DISTANCE = 5.0


@dataclass(frozen=True)
class Segment:
    action: str
    t0: float
    t1: float
    x0: float
    x1: float
    depth: float


@dataclass
class Performer:
    """One virtual person and their script."""

    ident: int
    height: float
    segments: list[Segment]

    def segment_at(self, t: float) -> Segment | None:
        for seg in self.segments:
            if seg.t0 <= t < seg.t1:
                return seg
        return None


def _rot_y(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _limb(origin: np.ndarray, length: float, forward: float, side: float) -> np.ndarray:
    """A point ``length`` from ``origin``, hanging down, swung ``forward`` and out to the ``side``."""
    direction = np.array(
        [math.sin(side) * math.cos(forward), -math.cos(side) * math.cos(forward), math.sin(forward)]
    )
    return origin + length * direction


def skeleton(height: float, action: str, u: float, phase: float) -> tuple[np.ndarray, float]:
    """33 joints in body coordinates (metres; x to the person's left, y up, z forward), and extra hip lift.

    ``u`` is the time in seconds since the action began; ``phase`` the walking cycle phase.
    """
    k = height / 1.75
    hip_h, lift = 0.95 * k, 0.0
    arm_fwd = [0.0, 0.0]  # left, right
    arm_side = [0.12, 0.12]
    elbow = [0.15, 0.15]
    leg_fwd = [0.0, 0.0]
    knee = [0.0, 0.0]
    if action == "walk":
        swing = math.sin(phase)
        leg_fwd = [0.45 * swing, -0.45 * swing]
        knee = [0.5 * max(0.0, -swing) + 0.1, 0.5 * max(0.0, swing) + 0.1]
        arm_fwd = [-0.35 * swing, 0.35 * swing]
        lift = 0.02 * k * abs(math.cos(phase))
    elif action == "raise_arms":
        up = min(1.0, u / 0.8) if u < 2.2 else max(0.0, 1.0 - (u - 2.2) / 0.8)
        arm_side = [0.12 + 2.85 * up, 0.12 + 2.85 * up]
        elbow = [0.15 * (1 - up), 0.15 * (1 - up)]
    elif action == "jump":
        if u < 0.4:  # crouch to take off
            bend = u / 0.4
        elif u < 0.9:  # flight
            bend = 0.0
            s = (u - 0.4) / 0.5
            lift = 0.35 * k * 4 * s * (1 - s)
        else:  # land and recover
            bend = max(0.0, 1.0 - (u - 0.9) / 0.4)
        leg_fwd = [0.6 * bend, 0.6 * bend]
        knee = [1.2 * bend, 1.2 * bend]
        arm_fwd = [0.8 * bend - 0.3, 0.8 * bend - 0.3] if u < 0.9 else [0.3, 0.3]
        arm_side = [0.3 + (1.5 if 0.4 <= u < 0.9 else 0.0)] * 2
    elif action == "crouch":
        bend = min(1.0, u / 0.7) if u < 2.0 else max(0.0, 1.0 - (u - 2.0) / 0.7)
        leg_fwd = [1.3 * bend, 1.3 * bend]
        knee = [2.2 * bend, 2.2 * bend]
        arm_fwd = [0.9 * bend, 0.9 * bend]
    elif action == "wave":
        arm_side = [0.12, 2.4]
        elbow = [0.15, 0.6 + 0.5 * math.sin(2 * math.pi * 1.5 * u)]
    elif action == "spin":
        arm_side = [1.3, 1.3]
    else:  # idle: breathing sway
        arm_side = [0.12 + 0.05 * math.sin(u * 1.3)] * 2
    # knee flexion lowers the hips
    drop = sum(
        0.45 * k * (1 - math.cos(leg_fwd[i])) * 0.5 + 0.43 * k * (1 - math.cos(knee[i] - leg_fwd[i])) * 0.5
        for i in (0, 1)
    )
    pelvis = np.array([0.0, hip_h - drop / 2 + lift, 0.0])
    j = np.zeros((NUM_LANDMARKS, 3))
    for i, side in ((0, 1.0), (1, -1.0)):  # 0: left (x > 0), 1: right
        name = "left" if i == 0 else "right"
        hip = pelvis + (side * 0.1 * k, 0, 0)
        kn = _limb(hip, 0.45 * k, leg_fwd[i], side * 0.03)
        ankle = _limb(kn, 0.43 * k, leg_fwd[i] - knee[i], side * 0.03)
        shoulder = pelvis + (side * 0.19 * k, 0.5 * k, 0)
        elb = _limb(shoulder, 0.3 * k, arm_fwd[i], side * arm_side[i])
        wrist = _limb(elb, 0.27 * k, arm_fwd[i] + elbow[i], side * arm_side[i])
        hand = _limb(wrist, 0.08 * k, arm_fwd[i] + elbow[i], side * arm_side[i])
        j[LM[f"{name}_hip"]], j[LM[f"{name}_knee"]], j[LM[f"{name}_ankle"]] = hip, kn, ankle
        j[LM[f"{name}_shoulder"]], j[LM[f"{name}_elbow"]], j[LM[f"{name}_wrist"]] = shoulder, elb, wrist
        j[LM[f"{name}_index"]] = hand + (0, 0, 0.02 * k)
        j[LM[f"{name}_pinky"]] = hand + (side * 0.02 * k, 0, -0.01 * k)
        j[LM[f"{name}_thumb"]] = hand - (side * 0.02 * k, -0.02 * k, -0.02 * k)
        j[LM[f"{name}_heel"]] = ankle + (0, -0.05 * k, -0.05 * k)
        j[LM[f"{name}_foot_index"]] = ankle + (0, -0.07 * k, 0.16 * k)
        j[LM[f"{name}_ear"]] = pelvis + (side * 0.075 * k, 0.66 * k, -0.02 * k)
        j[LM[f"{name}_eye_inner"]] = pelvis + (side * 0.015 * k, 0.7 * k, 0.08 * k)
        j[LM[f"{name}_eye"]] = pelvis + (side * 0.03 * k, 0.7 * k, 0.08 * k)
        j[LM[f"{name}_eye_outer"]] = pelvis + (side * 0.045 * k, 0.7 * k, 0.075 * k)
        j[LM[f"mouth_{name}"]] = pelvis + (side * 0.025 * k, 0.63 * k, 0.08 * k)
    j[LM["nose"]] = pelvis + (0, 0.67 * k, 0.1 * k)
    return j, lift


class VirtualTroupe:
    """Several virtual performers on a looping, seeded script."""

    def __init__(self, people: int = 2, seed: int = 0, period_s: float = 40.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.period_s = period_s
        self.performers = [self._script(i, people) for i in range(people)]

    def _script(self, ident: int, people: int) -> Performer:
        rng = self.rng
        height = float(rng.uniform(1.55, 1.95))
        segments: list[Segment] = []
        side = -1 if ident % 2 == 0 else 1
        t = 1.5 * ident  # staggered entrances
        depth = float(rng.uniform(0.5, 2.5))
        x = side * OFFSTAGE_X
        while t < self.period_s - 6.0:
            # walk on to a spot (crossing others on the way, since the sides alternate)
            target = float(rng.uniform(-2.0, 2.0))
            duration = abs(target - x) / 1.2
            segments.append(Segment("walk", t, t + duration, x, target, depth))
            t, x = t + duration, target
            for _ in range(int(rng.integers(2, 4))):
                action = str(rng.choice(["raise_arms", "jump", "spin", "crouch", "idle", "wave"]))
                length = {"jump": 1.5, "spin": 2.0, "crouch": 2.8, "raise_arms": 3.0}.get(action, 2.0)
                segments.append(Segment(action, t, t + length, x, x, depth))
                t += length
            if rng.random() < 0.4:  # exit, wait in the wings, come back from the other side
                exit_x = side * OFFSTAGE_X
                duration = abs(exit_x - x) / 1.4
                segments.append(Segment("walk", t, t + duration, x, exit_x, depth))
                t += duration + float(rng.uniform(1.0, 3.0))
                side, x = -side, -exit_x
                depth = float(rng.uniform(0.5, 2.5))
        if abs(x) < OFFSTAGE_X:  # leave at the end so the loop restarts cleanly
            segments.append(
                Segment("walk", t, min(t + abs(OFFSTAGE_X - x) / 1.2, self.period_s), x, OFFSTAGE_X, depth)
            )
        return Performer(ident + 1, height, segments)

    def world_joints(self, t: float) -> list[tuple[int, np.ndarray]]:
        """(performer id, 33x3 stage coordinates in metres: x right, y up, z away from the camera)."""
        t = t % self.period_s
        out = []
        for p in self.performers:
            seg = p.segment_at(t)
            if seg is None:
                continue
            u = t - seg.t0
            span = max(seg.t1 - seg.t0, 1e-6)
            x = seg.x0 + (seg.x1 - seg.x0) * min(1.0, u / span)
            moving = seg.x1 - seg.x0
            yaw = 0.0
            if seg.action == "walk" and abs(moving) > 1e-6:
                yaw = 0.35 * math.copysign(1.0, moving)  # walking three-quarters on
            if seg.action == "spin":
                yaw = 2 * math.pi * u / span
            joints, _ = skeleton(p.height, seg.action, u, phase=2 * math.pi * 0.9 * u)
            # body coordinates have x to the person's left; facing the camera that is image right
            joints = joints @ _rot_y(yaw).T
            joints[:, 2] *= -1.0  # facing the camera: body forward is toward the camera (-z)
            out.append((p.ident, joints + (x, 0.0, seg.depth)))
        return out

    def detections(self, t: float, width: int, height: int) -> list[tuple[int, Detection]]:
        """What a perfect detector would report at time ``t`` for a ``width`` x ``height`` camera."""
        f = 1.0 * width
        out = []
        for ident, joints in self.world_joints(t):
            zc = joints[:, 2] + CAMERA_DISTANCE
            u = f * joints[:, 0] / zc + width / 2
            v = -f * (joints[:, 1] - CAMERA_HEIGHT) / zc + height / 2
            x, y = u / width, v / height
            inside = (x > -0.02) & (x < 1.02) & (y > -0.02) & (y < 1.02)
            if inside.sum() < 8:
                continue
            hips = (joints[LM["left_hip"]] + joints[LM["right_hip"]]) / 2
            z = (zc - (hips[2] + CAMERA_DISTANCE)) * f / (hips[2] + CAMERA_DISTANCE) / width
            visibility = np.where(inside, 0.98, 0.05)
            landmarks = np.stack([x, y, z, visibility], axis=1).astype(np.float32)
            world = np.stack(
                [joints[:, 0] - hips[0], -(joints[:, 1] - hips[1]), joints[:, 2] - hips[2]], axis=1
            ).astype(np.float32)
            out.append((ident, Detection(landmarks, world, score=0.98)))
        return out
