"""How fast the read-only commands answer: `nasctl status|diff|validate` wall time, median of N runs.

Peers in the same run: a bare interpreter (`python -c pass`, the floor) and importing the high-level
Vertex SDK (`google.cloud.aiplatform`, what a tool built on it pays before doing anything).

    python -m benchmarks.cli_startup --runs 15 [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = Path(__file__).resolve().parents[1] / "specs" / "examples" / "nb201.yaml"


def _median_seconds(command: list[str], runs: int, cwd: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    python = sys.executable
    with tempfile.TemporaryDirectory() as cwd:
        results = {
            "python -c pass": _median_seconds([python, "-c", "pass"], args.runs, cwd),
            "import google.cloud.aiplatform": _median_seconds(
                [python, "-c", "import google.cloud.aiplatform"], max(3, args.runs // 5), cwd),
        }
        for command in ("status", "diff", "validate"):
            results[f"nasctl {command}"] = _median_seconds(
                [python, "-m", "nasctl.cli", command, "-f", str(SPEC)], args.runs, cwd)
    floor = results["python -c pass"]
    report = {name: {"seconds": round(seconds, 3), "vs_bare_python": round(seconds / floor, 1)}
              for name, seconds in results.items()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, row in report.items():
            print(f"{name:34s} {row['seconds']:7.3f} s  ({row['vs_bare_python']:.1f}x bare python)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
