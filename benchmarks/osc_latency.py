"""OSC out: capture to datagram received in another process, encoding cost, throughput to 3 targets.

Run from the repository root: ``python -m benchmarks.osc_latency [--quick] [--people 3] [--fps 60]
[--json out.json]``. See :mod:`perform.bench.osc` for the method.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from perform.bench import machine
from perform.bench.osc import bench_osc, markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per measure instead of 10")
    parser.add_argument("--people", type=int, default=3, help="virtual performers (default 3)")
    parser.add_argument("--fps", type=float, default=60.0, help="frames per second published (default 60)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    result = {"machine": machine(), "osc": bench_osc(args.quick, args.people, args.fps)}
    m = result["machine"]
    print(f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}\n")
    print("\n".join(markdown(result["osc"])))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
