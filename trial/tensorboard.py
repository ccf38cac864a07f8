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
from trial.fuse import local_path

FRACTION_TAG = "training_fraction"
TENSORBOARD_LOG_DIR_ENV = "AIP_TENSORBOARD_LOG_DIR"  # set by Vertex for a job with a TensorBoard resource


class ScalarEvents:
    def __init__(self, logdir: Path, upload_dir: str | None = None):
        self.logdir = logdir
        self.upload_dir = upload_dir  # a second copy, where Vertex's TensorBoard uploader looks
        self._writers: list[Any] = []

    def add(self, step: int, metrics: dict[str, Any], fraction: float) -> None:
        """One evaluation cycle: every finite metric (and the training fraction, when known) at `step`.

        NaN and infinities are left out (TensorBoard cannot draw them; metrics.jsonl keeps them). Written
        and flushed before returning: a trial may be killed at any moment, and its curves should survive.
        """
        from tensorboardX.event_file_writer import EventsWriter  # noqa: PLC0415 - only reporting trials need it
        from tensorboardX.proto.event_pb2 import Event  # noqa: PLC0415
        from tensorboardX.proto.summary_pb2 import Summary  # noqa: PLC0415

        if not self._writers:
            # Vertex gives a gs:// folder: written through the job's Cloud Storage FUSE mount
            folders = [self.logdir, *([local_path(self.upload_dir)] if self.upload_dir else [])]
            for folder in folders:
                folder.mkdir(parents=True, exist_ok=True)
            self._writers = [EventsWriter(str(folder / "events")) for folder in folders]
        scalars = {**numeric_entries(metrics), FRACTION_TAG: fraction}
        values = [Summary.Value(tag=tag, simple_value=value) for tag, value in scalars.items() if math.isfinite(value)]
        event = Event(wall_time=time.time(), step=step, summary=Summary(value=values))
        for writer in self._writers:
            writer.write_event(event)
            writer.flush()
