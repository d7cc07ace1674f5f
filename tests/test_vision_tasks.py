"""The Tasks pose backend on real photographs: bundle, landmarks, masks, multi-person recall."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from perform.vision import bundle
from perform.vision.bundle import ModelBundleError, build_pose_task
from perform.vision.tasks import TasksPose, plan_tiles, similarity
from perform.vision.types import LM, Detection
from tests.people import compose, found, source

# Composed from scikit-image's two photographs of people, so the test runs wherever the dev
# dependencies are installed (benchmarks/multi_person.py adds OpenCV's photos when present).
NAMES = ["astronaut", "camera"]
LAYOUTS = [(2, 0), (3, 1), (4, 2), (6, 3)]  # (people, seed)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pose_task(tmp_path_factory.mktemp("cache"))


@cache
def _references(task: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in NAMES:
        backend = TasksPose(num_poses=1, tiles=1, model=task)
        (det,) = backend.detect(source(name), 0.0)
        backend.close()
        out[name] = det.landmarks
    return out


def test_bundle_is_built_once_and_cached(tmp_path: Path) -> None:
    first = build_pose_task(tmp_path)
    stamp = first.stat().st_mtime_ns
    second = build_pose_task(tmp_path)
    assert second == first
    assert second.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]  # no temporary files left
    import mediapipe

    assert mediapipe.__version__ in first.name
    import zipfile

    assert sorted(zipfile.ZipFile(first).namelist()) == [
        "pose_detector.tflite",
        "pose_landmarks_detector.tflite",
    ]


def test_missing_models_say_which_mediapipe_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle, "LANDMARK_MODEL", Path("modules/pose_landmark/nowhere.tflite"))
    with pytest.raises(ModelBundleError, match=r"mediapipe==0\.10\.21.*nowhere\.tflite"):
        build_pose_task(tmp_path)


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bundle.default_cache_dir() == tmp_path / "perform"


def test_astronaut_landmarks_where_read_off_the_photo(task: Path) -> None:
    image = data.astronaut()  # 512 x 512, an upper body facing the camera
    backend = TasksPose(num_poses=2, tiles=1, model=task)
    dets = backend.detect(image, 0.0)
    backend.close()
    assert len(dets) == 1
    det = dets[0]
    assert isinstance(det, Detection)
    assert det.landmarks.shape == (33, 4) and det.landmarks.dtype == np.float32
    assert det.world.shape == (33, 3) and det.world.dtype == np.float32
    assert det.mask is None
    # Mean landmark presence: the legs of this portrait lie outside the picture.
    assert 0.3 < det.score < 0.8
    # Pixel positions read off the photograph by eye, and how far off each may be.
    for name, (x, y), tol in [
        ("nose", (222, 125), 20),
        ("right_shoulder", (100, 250), 35),  # the person's right is the image's left
        ("left_shoulder", (320, 260), 35),
        ("right_wrist", (150, 485), 45),
    ]:
        px = det.landmarks[LM[name], :2] * 512
        assert np.hypot(px[0] - x, px[1] - y) < tol, f"{name} at {px}, expected near ({x}, {y})"
    assert det.landmarks[LM["nose"], 3] > 0.9
    # World landmarks are metres around the hips: shoulders some 25..50 cm apart.
    span = np.linalg.norm(det.world[LM["left_shoulder"]] - det.world[LM["right_shoulder"]])
    assert 0.2 < span < 0.6


def test_mask_covers_the_person_not_the_background(task: Path) -> None:
    image = data.astronaut()
    backend = TasksPose(num_poses=1, tiles=1, masks=True, model=task)
    (det,) = backend.detect(image, 0.0)
    backend.close()
    assert det.mask is not None and det.mask.shape == (512, 512) and det.mask.dtype == np.float32
    assert det.mask.min() >= 0.0 and det.mask.max() <= 1.0
    assert det.mask[80:160, 190:260].mean() > 0.8  # face
    assert det.mask[300:400, 60:200].mean() > 0.8  # orange suit
    assert det.mask[0:60, 330:512].mean() < 0.1  # wall behind


def test_tiled_masks_and_landmarks_are_in_whole_frame_coordinates(task: Path) -> None:
    frame = np.full((720, 1280, 3), 40, np.uint8)
    frame[100:612, 700:1212] = data.astronaut()
    backend = TasksPose(num_poses=2, tiles=2, masks=True, model=task)
    dets = backend.detect(frame, 0.0)
    backend.close()
    assert len(dets) == 1  # seen by both strips, merged
    (det,) = dets
    nose = det.landmarks[LM["nose"], :2] * (1280, 720)
    assert np.hypot(nose[0] - (700 + 222), nose[1] - (100 + 125)) < 20
    assert det.mask is not None and det.mask.shape == (720, 1280)
    assert det.mask[300:400, 760:900].mean() > 0.8
    assert det.mask[:, :600].max() < 0.1


def test_timestamps_may_repeat(task: Path) -> None:
    backend = TasksPose(num_poses=1, tiles=1, model=task)
    image = data.astronaut()
    for _ in range(3):
        assert len(backend.detect(image, 5.0)) == 1  # MediaPipe needs increasing ms; we make them so
    backend.close()


def test_plan_tiles_cover_the_frame_with_overlap() -> None:
    tiles = plan_tiles(1280, 720, 2, 1, overlap=0.25)
    assert [(t.x0, t.x1) for t in tiles] == [(0, 732), (548, 1280)]
    assert all((t.y0, t.y1) == (0, 720) for t in tiles)
    grid = plan_tiles(1280, 720, 3, 2, overlap=0.25)
    assert len(grid) == 6 and grid[0].x0 == 0 and grid[-1].x1 == 1280 and grid[-1].y1 == 720
    assert plan_tiles(640, 480, 1) == plan_tiles(640, 480, 1, 1)


def test_similarity_is_one_for_the_same_body_and_low_for_another() -> None:
    a = np.random.default_rng(0).uniform(0.2, 0.4, (33, 4)).astype(np.float32)
    b = a.copy()
    b[:, 0] += 0.5
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity(a, b) < 0.05


def _recall(backend_args: dict, task: Path) -> float:
    refs = _references(task)
    hits = total = 0
    for people, seed in LAYOUTS:
        frame, places = compose(people, seed=seed, names=NAMES)
        backend = TasksPose(num_poses=6, model=task, **backend_args)
        dets = backend.detect(frame, 0.0)
        backend.close()
        hits += sum(found([d.landmarks for d in dets], places, refs, 1280, 720))
        total += people
    return hits / total


def test_multi_person_recall_tiles_beat_the_whole_frame(task: Path) -> None:
    plain = _recall({"tiles": 1}, task)
    tiled = _recall({"tiles": "auto"}, task)  # two strips on 1280 x 720
    # Measured on these 15 people: plain 0.27 (4), auto 0.60 (9); see docs/multi-person.md.
    assert plain >= 0.27 - 0.1
    assert tiled >= 0.60 - 0.1
    assert tiled > plain


def test_rejects_what_it_cannot_use(task: Path) -> None:
    with pytest.raises(ValueError, match="num_poses"):
        TasksPose(num_poses=0, model=task)
    with pytest.raises(ValueError, match="tiles"):
        TasksPose(tiles=0, model=task)
    backend = TasksPose(model=task)
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 RGB image, got \(4, 4\)"):
        backend.detect(np.zeros((4, 4), np.uint8), 0.0)
    backend.close()
