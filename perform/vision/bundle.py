"""Builds MediaPipe's PoseLandmarker ``.task`` bundle from the models inside the mediapipe wheel.

The Tasks API wants a zip holding ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``,
each carrying TFLite metadata that says how to normalise its input image. The mediapipe 0.10.21
wheel ships the same two BlazePose models for the legacy solutions API, without that metadata on
the landmark model. We add it with mediapipe's own metadata writer and zip the pair, once, into a
cache folder; nothing is downloaded.

The cache key holds the mediapipe version, a hash of both model files and :data:`BUNDLE_FORMAT`,
so a bundle built from other models (or by an older version of this module) is never used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from perform.errors import PerformError

#: Bump when the metadata written below changes, so cached bundles are rebuilt.
BUNDLE_FORMAT = 1

#: Model files inside the mediapipe package, relative to its folder.
DETECTOR_MODEL = Path("modules/pose_detection/pose_detection.tflite")
LANDMARK_MODEL = Path("modules/pose_landmark/pose_landmark_full.tflite")

# What the two models take and give (read from their flatbuffers):
#   detector:  input_1 (1,224,224,3) float32 RGB in -1..1;
#              Identity (1,2254,12) raw boxes + 4 keypoints, Identity_1 (1,2254,1) score logits.
#   landmarks: input_1 (1,256,256,3) float32 RGB in 0..1;
#              Identity (1,195) 39 landmarks x 5, Identity_1 (1,1) presence logit,
#              Identity_2 (1,256,256,1) segmentation logits, Identity_3 (1,64,64,39) heatmap,
#              Identity_4 (1,117) 39 world landmarks x 3.
_DETECTOR_INPUT = ((1, 224, 224, 3), 2)
_LANDMARK_INPUT = ((1, 256, 256, 3), 5)


class ModelBundleError(PerformError):
    """The pose models could not be found in the mediapipe wheel, or the bundle not be written."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/perform``, or ``~/.cache/perform``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "perform"


def build_pose_task(cache_dir: Path | None = None) -> Path:
    """The path of a PoseLandmarker ``.task`` bundle, built into ``cache_dir`` on first use.

    Raises :class:`ModelBundleError` when the installed mediapipe lacks the BlazePose models
    (only 0.10.21 and releases like it carry them) or the cache folder cannot be written.
    """
    import mediapipe as mp

    mp_dir = Path(mp.__file__).parent
    version = getattr(mp, "__version__", "unknown")
    detector_path, landmark_path = mp_dir / DETECTOR_MODEL, mp_dir / LANDMARK_MODEL
    missing = [str(p) for p in (detector_path, landmark_path) if not p.is_file()]
    if missing:
        raise ModelBundleError(
            f"expected the BlazePose models in the mediapipe wheel (mediapipe==0.10.21), "
            f"but mediapipe {version} at {mp_dir} lacks {', '.join(missing)}"
        )
    detector, landmarks = detector_path.read_bytes(), landmark_path.read_bytes()
    digest = hashlib.sha256()
    for blob in (detector, landmarks):
        digest.update(hashlib.sha256(blob).digest())
    key = f"pose_landmarker_full-mp{version}-f{BUNDLE_FORMAT}-{digest.hexdigest()[:16]}.task"

    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / key
    if target.is_file():
        return target

    _check_model(detector, _DETECTOR_INPUT, detector_path)
    _check_model(landmarks, _LANDMARK_INPUT, landmark_path)
    models = {
        "pose_detector.tflite": _with_metadata(
            detector,
            name="BlazePose detector",
            description="Finds people's bodies: boxes and four keypoints per anchor",
            mean=127.5,
            std=127.5,
            outputs=2,
        ),
        "pose_landmarks_detector.tflite": _with_metadata(
            landmarks,
            name="BlazePose GHUM 3D full",
            description="33 body landmarks, presence, segmentation, heatmap and world landmarks",
            mean=0.0,
            std=255.0,
            outputs=5,
        ),
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_bundle_atomically(models, target)
    except OSError as e:
        raise ModelBundleError(f"could not write the pose bundle to {target}: {e}") from e
    return target


def _check_model(blob: bytes, expected: tuple[tuple[int, ...], int], path: Path) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import writer_utils

    subgraph = writer_utils.get_subgraph(bytearray(blob))
    shape = tuple(int(n) for n in subgraph.Tensors(subgraph.Inputs(0)).ShapeAsNumpy())
    outputs = subgraph.OutputsLength()
    want_shape, want_outputs = expected
    if shape != want_shape or outputs != want_outputs:
        raise ModelBundleError(
            f"{path}: expected input {want_shape} and {want_outputs} outputs, "
            f"got input {shape} and {outputs} outputs"
        )


def _with_metadata(blob: bytes, name: str, description: str, mean: float, std: float, outputs: int) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(blob))
    writer.add_general_info(name, description)
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(outputs):
        writer.add_feature_output()
    model, _json = writer.populate()
    return bytes(model)


def _write_bundle_atomically(models: dict[str, bytes], target: Path) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    # Written next to the target and renamed, so a reader never sees half a bundle and two
    # processes building at once both end with a whole one.
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        model_asset_bundle_utils.create_model_asset_bundle(models, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
