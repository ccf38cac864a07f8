"""Fault injection: the transient errors and slow answers the service gives (429, 500, 503).

Rules are matched per call by RPC method name (e.g. ``"GetCustomJob"``, ``"CreateNasJob"``) or for
every method; a rule fails either its next `count` calls or a `fraction` of calls (seeded), and
may delay its answers. The aiplatform_v1 client sets no retry or deadline on job calls, so each
injected error reaches the caller as ``ServiceUnavailable`` / ``ResourceExhausted`` /
``InternalServerError``. An injected 429 says what a spent request rate quota says (rates.py).
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from vertex_emulator.errors import ApiError, status_for_http
from vertex_emulator.rates import rate_exceeded, request_kind

INJECTABLE = (429, 500, 503)
MESSAGES = {500: "Internal error encountered.", 503: "The service is currently unavailable."}


@dataclass
class FaultRule:
    http: int | None = None  # 429, 500 or 503; None for a delay-only rule
    method: str | None = None  # RPC name; None matches every call
    count: int | None = None  # calls left to affect; None = unlimited (then `fraction` applies)
    fraction: float = 1.0
    delay_s: float = 0.0


class Faults:
    def __init__(self, seed: int = 0):
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def fail_next(self, count: int, http: int = 503, method: str | None = None) -> None:
        """The next `count` matching calls answer `http`."""
        self._add(FaultRule(http=http, method=method, count=count))

    def fail_fraction(self, fraction: float, http: int = 503, method: str | None = None) -> None:
        """A seeded `fraction` of matching calls answer `http`, until :meth:`clear`."""
        self._add(FaultRule(http=http, method=method, fraction=fraction))

    def delay(self, seconds: float, method: str | None = None, count: int | None = None) -> None:
        """Matching calls answer after `seconds` (wall clock)."""
        self._add(FaultRule(method=method, count=count, delay_s=seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _add(self, rule: FaultRule) -> None:
        if rule.http is not None and rule.http not in INJECTABLE:
            raise ValueError(f"injectable HTTP errors are {list(INJECTABLE)}")
        with self._lock:
            self._rules.append(rule)

    def on_call(self, method: str) -> tuple[float, ApiError | None]:
        """(delay in seconds, error to answer or None) for one call of `method`."""
        delay, error = 0.0, None
        with self._lock:
            for rule in self._rules:
                if rule.method not in (None, method) or rule.count == 0:
                    continue
                if rule.count is None and self._random.random() >= rule.fraction:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                delay += rule.delay_s
                if rule.http is not None and error is None:
                    error = _error(rule.http, method)
            self._rules = [rule for rule in self._rules if rule.count != 0]
        return delay, error


def _error(http: int, method: str) -> ApiError:
    if http == 429:
        return rate_exceeded(request_kind(method))
    return ApiError(status_for_http(http), MESSAGES[http])
