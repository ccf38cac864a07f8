"""The emulator's clock: job time runs `time_scale` times faster than the wall clock.

With ``time_scale=3600`` one wall second is an hour of job time, so a 7-day timeout or the
14-day NasJob limit passes in minutes or seconds. Every timestamp the emulator serves
(createTime, startTime, endTime, updateTime) is read from this clock, so durations computed
by a client from them (``endTime - startTime``) are in job time too.
"""
from __future__ import annotations

import time


class Clock:
    def __init__(self, time_scale: float = 1.0, start: float | None = None):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._start = time.time() if start is None else start
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Job time, in epoch seconds."""
        return self._start + (time.monotonic() - self._mono0) * self.time_scale

    def set_scale(self, time_scale: float) -> None:
        """Go on from now at another speed (a test fast-forwards one part of a run, then slows down)."""
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self._start, self._mono0 = self.now(), time.monotonic()
        self.time_scale = time_scale
