"""Every `TrialContext.report` also lands in a TensorBoard event file in the trial's directory."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import masked_crc32c

from trial.context import TrialContext
from trial.dirs import LocalTrialDir
from trial.tensorboard import FRACTION_TAG


def _events(path: Path) -> list[Event]:
    """Read a TFRecord file the way TensorBoard does, checking both checksums of every record."""
    data, pos, events = path.read_bytes(), 0, []
    while pos < len(data):
        header = data[pos:pos + 8]
        assert struct.unpack("<I", data[pos + 8:pos + 12])[0] == masked_crc32c(header)
        (length,) = struct.unpack("<Q", header)
        payload = data[pos + 12:pos + 12 + length]
        assert struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] == masked_crc32c(payload)
        events.append(Event.FromString(payload))
        pos += 16 + length
    return events


def test_reported_metrics_are_tensorboard_scalars(tmp_path: Path) -> None:
    trial = tmp_path / "trials" / "search-0003"
    trial.mkdir(parents=True)
    LocalTrialDir(trial).write_spec({"id": "search-0003", "stage": "search", "arch": {}})
    ctx = TrialContext(trial)
    ctx.report(10, {"accuracy": 0.5, "loss": 1.5, "note": "not a number"}, fraction=0.25)
    ctx.report(20, {"accuracy": 0.75, "loss": math.nan})

    (path,) = trial.glob("events.out.tfevents.*")  # readable as soon as report returns: flushed
    events = _events(path)
    assert events[0].file_version == "brain.Event:2"
    scalars = [(e.step, v.tag, v.simple_value) for e in events for v in e.summary.value]
    assert scalars == [(10, "accuracy", 0.5), (10, "loss", 1.5), (10, FRACTION_TAG, 0.25),
                       (20, "accuracy", 0.75)]  # no NaN loss, no unknown fraction: TensorBoard cannot draw them


def test_on_vertex_the_curves_also_go_where_its_tensorboard_uploader_looks(tmp_path: Path, monkeypatch) -> None:
    trial = tmp_path / "trials" / "search-0000"
    trial.mkdir(parents=True)
    LocalTrialDir(trial).write_spec({"id": "search-0000", "stage": "search", "arch": {}})
    monkeypatch.setenv("NASCTL_GCS_FUSE_ROOT", str(tmp_path / "mount"))  # what /gcs/ is on this machine
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", "gs://bkt/staging/search-0000/logs")  # as Vertex sets it
    upload = tmp_path / "mount" / "bkt" / "staging" / "search-0000" / "logs"
    TrialContext(trial).report(5, {"accuracy": 0.4}, fraction=0.5)
    (local,) = trial.glob("events.out.tfevents.*")
    (uploaded,) = upload.glob("events.out.tfevents.*")
    assert [e.summary.value[0].simple_value for e in _events(uploaded)[1:]] == pytest.approx([0.4])
    assert _events(local)[1:] == _events(uploaded)[1:]
