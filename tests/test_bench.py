"""The benchmarks run and report what they say (figures are not asserted: they are machine-bound)."""

import json

from perform.bench import machine, markdown, write_json
from perform.bench.core import bench_core
from perform.bench.pose import _bare_legacy, _measure, stage_frame
from perform.vision.config import PoseConfig


def test_core_benchmark_reports_hops_against_the_reference(tmp_path):
    core = bench_core(seconds=0.6, hops=2, width=320, height=180)
    for side in ("slots", "reference_queue"):
        hop = core[side]["hop_ms"]
        assert 0 < hop["p50"] <= hop["p95"] <= hop["p99"]
        assert core[side]["frames"] > 10
    assert core["slots"]["delivered"] + core["slots"]["dropped"] <= core["slots"]["frames"] * 2
    assert core["hop_ratio_vs_queue"]["p50"] > 0
    result = {"machine": machine(), "time": "now", "core": core}
    text = markdown(result)
    assert "one hop, latest-wins slot" in text and result["machine"]["cores"] >= 1
    write_json(tmp_path / "b.json", result)
    assert json.loads((tmp_path / "b.json").read_text())["core"]["setup"]["hops"] == 2


def test_pose_benchmark_finds_the_person_and_measures_both_sides():
    frame = stage_frame(640, 360, 1)
    assert frame.shape == (360, 640, 3)
    row = _measure(PoseConfig(max_people=1, backend="legacy", masks=False), _bare_legacy(False), frame, 3)
    assert row["people_found"] == 1
    assert row["ours_ms"]["p50"] > 0 and row["bare_ms"]["p50"] > 0 and row["ratio_p50"] > 0
