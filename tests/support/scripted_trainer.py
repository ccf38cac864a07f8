"""A trainer image that trains nothing, for tests of what nasctl does with the outcomes of Vertex jobs.

The emulator runs it as the image's entrypoint (``VertexEmulator(image_entrypoints={IMAGE: scripted_entrypoint(
{...})})``), so jobs really start, run, end and are cancelled, as quickly as a process can:

* a CustomJob exits with the code given for its trial (the name of the trial directory, its last
  argument), or runs until it is cancelled when none is given;
* a NasJob trial (the emulator sets ``CLOUD_ML_HP_METRIC_FILE``) reports the metric Vertex asks for
  (``CLOUD_ML_HP_METRIC_TAG``) as ``trial id / 100`` (later trials score higher), as google/vertex-ai-nas's
  metrics reporter writes it, after ``nas_seconds``, and exits 0.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def scripted_entrypoint(exit_codes: dict[str, int] | None = None, nas_seconds: float = 0.0) -> list[str]:
    """The emulator's command for the scripted image: `exit_codes` maps trial ids to exit codes; a NasJob
    trial runs `nas_seconds`."""
    return [sys.executable, str(Path(__file__).resolve()), json.dumps(exit_codes or {}), str(nas_seconds)]


def nas_reward(trial_id: str) -> float:
    return int(trial_id) / 100


def main(argv: list[str]) -> int:
    exit_codes, nas_seconds, job_args = json.loads(argv[0]), float(argv[1]), argv[2:]
    metric_file = os.environ.get("CLOUD_ML_HP_METRIC_FILE")
    if metric_file:
        time.sleep(nas_seconds)
        trial_id = os.environ["CLOUD_ML_TRIAL_ID"]
        record = {os.environ["CLOUD_ML_HP_METRIC_TAG"]: str(nas_reward(trial_id)), "global_step": "1"}
        with open(metric_file, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return 0
    trial_id = job_args[-1].rstrip("/").rsplit("/", 1)[-1]
    if trial_id in exit_codes:
        print(f"trial {trial_id} exits {exit_codes[trial_id]}", flush=True)
        return int(exit_codes[trial_id])
    while True:  # a trial that runs until Vertex (the emulator) stops it
        time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
