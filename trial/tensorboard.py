"""A trial's reported metrics as TensorBoard scalars, written into its own directory.

``tensorboard --logdir <stateUri>/<name>/trials`` then shows one run per trial, where ML engineers
already look. tensorboardX writes the event files without TensorFlow; its synchronous ``EventsWriter``
is used (not ``SummaryWriter``, whose background thread may still hold events when a trial is killed),
imported on the first report so that nothing else pays for it.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from trial.dirs import numeric_entries

FRACTION_TAG = "training_fraction"


class ScalarEvents:
    def __init__(self, logdir: Path):
        self.logdir = logdir
        self._writer: Any = None

    def add(self, step: int, metrics: dict[str, Any], fraction: float) -> None:
        """One evaluation cycle: every finite metric (and the training fraction, when known) at `step`.

        NaN and infinities are left out (TensorBoard cannot draw them; metrics.jsonl keeps them). Written
        and flushed before returning: a trial may be killed at any moment, and its curves should survive.
        """
        from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415 - only reporting trials need it
        from tensorboardX.proto.event_pb2 import Event  # noqa: PLC0415
        from tensorboardX.proto.summary_pb2 import Summary  # noqa: PLC0415

        if self._writer is None:
            self._writer = EventsWriter(str(self.logdir / "events"))
        scalars = {**numeric_entries(metrics), FRACTION_TAG: fraction}
        values = [Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items() if math.isfinite(value)]
        self._writer.write_event(Event(wall_time=time.time(), step=step, summary=Summary(value=values)))
        self._writer.flush()
