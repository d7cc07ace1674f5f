"""Offline analysis on real footage: `perform pose VIDEO|FOLDER|TAKE --csv/--json`, `perform plot`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from perform.bench.pose import VTEST
from perform.cli import main
from perform.offline.run import Analysis, read_input
from perform.offline.table import LANDMARK_COLUMNS, columns
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.still import detect_image
from perform.vision.take import TakeWriter
from perform.vision.types import NUM_LANDMARKS

FRAMES = Path(__file__).parent / "data" / "footage" / "frames"
SIZE, FPS, N = (384, 288), 10.0, 16

pytestmark = pytest.mark.skipif(not VTEST.is_file(), reason="needs opencv-doc's vtest.avi")


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """N real frames of vtest.avi, made small, as an MJPEG video at FPS."""
    path = tmp_path_factory.mktemp("clip") / "rehearsal.avi"
    cap = cv2.VideoCapture(str(VTEST))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for _ in range(N):
        ok, bgr = cap.read()
        assert ok
        out.write(cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA))
    out.release()
    cap.release()
    return path


@pytest.fixture(scope="module")
def analysed(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`perform pose CLIP --csv --json --features --events` once, for the tests that read it."""
    out = tmp_path_factory.mktemp("out")
    rc = main(["pose", str(clip), "--csv", str(out / "run.csv"), "--features", "--events"])
    assert rc == 0
    rc = main(["pose", str(clip), "--json", str(out / "run.jsonl"), "--features"])
    assert rc == 0
    return out


def test_video_csv_has_a_row_per_frame_and_person_equal_to_perception(clip: Path, analysed: Path) -> None:
    header, rows = _rows(analysed / "run.csv")
    assert tuple(header) == columns(features=True)
    assert header[:4] == ["frame", "time_s", "person", "score"] and header[4:8] == [
        "nose_x", "nose_y", "nose_z", "nose_visibility",
    ]  # fmt: skip
    # the same perception as a show, fed the same decoded frames at the file's times
    config = PoseConfig(masks=False)
    backend, perception = make_backend(config), Perception(config)
    cap = cv2.VideoCapture(str(clip))
    expected: list[tuple[int, int, np.ndarray, float]] = []
    for i in range(N):
        ok, bgr = cap.read()
        assert ok
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        t = i / FPS
        poses = perception(backend(rgb, t), i, t, *SIZE)
        expected += [(i, b.slot, b.landmarks, poses.features[f"p{b.slot}.energy"]) for b in poses.bodies]
    backend.close()
    assert ok and len(rows) == len(expected) > N  # several people, most frames
    lm = slice(4, 4 + len(LANDMARK_COLUMNS))
    energy = header.index("energy")
    for row, (frame, slot, landmarks, e) in zip(rows, expected, strict=True):
        assert (int(row[0]), int(row[2])) == (frame, slot)
        assert float(row[1]) == pytest.approx(frame / FPS)
        got = np.array(row[lm], np.float64).reshape(NUM_LANDMARKS, 4)
        np.testing.assert_allclose(got, landmarks, rtol=1e-6, atol=1e-6)
        assert float(row[energy]) == pytest.approx(e, rel=1e-6, abs=1e-6)
    events_header, events = _rows(analysed / "run.events.csv")
    assert events_header == ["frame", "time_s", "event", "person", "active", "value"]
    assert {"enter", "people_changed"} <= {e[2] for e in events}


def test_video_json_lines_parse(analysed: Path) -> None:
    lines = (analysed / "run.jsonl").read_text().splitlines()
    frames = [json.loads(line) for line in lines]
    assert [f["frame"] for f in frames] == list(range(N))
    _, rows = _rows(analysed / "run.csv")
    assert sum(len(f["people"]) for f in frames) == len(rows)
    last = frames[-1]
    assert last["time_s"] == pytest.approx((N - 1) / FPS) and (last["width"], last["height"]) == SIZE
    person = last["people"][0]
    assert set(person) == {"person", "score", "landmarks"} and len(person["landmarks"]) == NUM_LANDMARKS
    assert last["features"]["people"] == len(last["people"])


def test_take_gives_the_rows_it_was_recorded_from(clip: Path, tmp_path: Path) -> None:
    take = TakeWriter(tmp_path / "r.take", *SIZE)
    items = list(read_input(clip, "video", PoseConfig(masks=False)))
    for item in items[:6]:
        take.write(item.poses)
    take.close()
    assert main(["pose", str(tmp_path / "r.take"), "--csv", str(tmp_path / "take.csv")]) == 0
    _, rows = _rows(tmp_path / "take.csv")
    expected = [(i.index, b) for i in items[:6] for b in i.poses.bodies]
    assert len(rows) == len(expected)
    for row, (frame, body) in zip(rows, expected, strict=True):
        assert (int(row[0]), int(row[2])) == (frame, body.slot)
        np.testing.assert_allclose(np.array(row[4:8], float), body.landmarks[0], rtol=1e-6, atol=1e-6)


def test_folder_matches_perform_pose_and_skips_a_broken_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("vtest_0040.jpg", "vtest_0340.jpg"):
        bgr = cv2.imread(str(FRAMES / name))
        cv2.imwrite(str(folder / name.replace(".jpg", ".png")), cv2.resize(bgr, SIZE))
    (folder / "vtest_0200.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"torn off here")
    capsys.readouterr()
    rc = main(
        ["pose", str(folder), "--csv", str(tmp_path / "photos.csv"), "--json", str(tmp_path / "p.jsonl")]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "vtest_0200.png" in err and "skipped" in err
    _, rows = _rows(tmp_path / "photos.csv")
    objects = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [Path(o["image"]).name for o in objects] == ["vtest_0040.png", "vtest_0340.png"]
    n = 0
    for frame, name in enumerate(("vtest_0040.png", "vtest_0340.png")):
        _, people = detect_image(folder / name)  # what `perform pose IMAGE` finds
        assert len(objects[frame]["people"]) == len(people) > 0
        for slot, person in enumerate(people, start=1):
            row = rows[n]
            assert (int(row[0]), int(row[2])) == (frame, slot)
            got = np.array(row[4 : 4 + len(LANDMARK_COLUMNS)], np.float64).reshape(NUM_LANDMARKS, 4)
            np.testing.assert_allclose(got, person.landmarks, rtol=1e-6, atol=1e-6)
            n += 1
    assert n == len(rows)


def test_an_interrupted_run_leaves_a_readable_file(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = 0
    real = Analysis.__call__

    def stop_after_five(self: Analysis, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 5:
            raise KeyboardInterrupt  # Ctrl-C during the sixth frame
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Analysis, "__call__", stop_after_five)
    out = tmp_path / "cut.csv"
    capsys.readouterr()
    assert main(["pose", str(clip), "--csv", str(out), "--events"]) == 130
    assert "interrupted after 5 frames" in capsys.readouterr().err
    header, rows = _rows(out)
    assert tuple(header) == columns(features=False)
    assert rows and {int(r[0]) for r in rows} <= set(range(5))
    assert all(len(r) == len(header) for r in rows)
    assert _rows(tmp_path / "cut.events.csv")[0][0] == "frame"


def test_plot_draws_features_over_time(analysed: Path, tmp_path: Path) -> None:
    out = tmp_path / "plot.png"
    assert main(["plot", str(analysed / "run.csv"), "--features", "energy,hands_up", "--out", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] > 200
    # lines in the performers' colours, not just white and grey
    saturated = np.ptp(image.astype(int), axis=2) > 60
    assert saturated.sum() > 200
    assert main(["plot", str(analysed / "run.csv"), "--features", "nope", "--out", str(out)]) == 2


def test_a_still_image_refuses_the_video_options(tmp_path: Path) -> None:
    image = tmp_path / "one.png"
    cv2.imwrite(str(image), cv2.imread(str(FRAMES / "vtest_0040.jpg")))
    assert main(["pose", str(image), "--csv", str(tmp_path / "x.csv")]) == 2
    assert main(["pose", str(tmp_path / "none.mp4"), "--csv", str(tmp_path / "x.csv")]) == 2
