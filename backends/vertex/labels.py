"""Vertex job labels: how nasctl finds its jobs again (adoption) without trusting its own records.

Label values: at most 63 characters of lowercase letters, digits, ``_`` and ``-``. A value that would
be longer keeps a readable head and ends with a hash of the whole, so it stays unique.
"""
from __future__ import annotations

import hashlib
import re

EXPERIMENT_LABEL = "nasctl-exp"
IDENTITY_LABEL = "nasctl-id"  # which experiment: its name *and* where its state lives
KEY_LABEL = "nasctl-key"
STAGE_LABEL = "nasctl-stage"
_MAX = 63
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


def label_value(text: str) -> str:
    """`text` if it is a valid label value, else a valid value derived from it (head + hash)."""
    if len(text) <= _MAX and not _UNSAFE.search(text) and text:
        return text
    head = _UNSAFE.sub("-", text.lower()).strip("-")[:_MAX - 11].rstrip("-") or "x"
    return f"{head}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def job_key(experiment: str, trial_id: str) -> str:
    """The deterministic id of a trial's job: the same on every pass, every machine."""
    return label_value(f"{experiment}-{trial_id}")


def experiment_identity(state_uri: str, experiment: str) -> str:
    """A stable id of one experiment: the same name in another bucket (or prefix) is another experiment."""
    return hashlib.sha256(f"{state_uri.rstrip('/')}|{experiment}".encode()).hexdigest()[:20]


def job_labels(experiment: str, identity: str, key: str, stage: str) -> dict[str, str]:
    return {EXPERIMENT_LABEL: label_value(experiment), IDENTITY_LABEL: identity, KEY_LABEL: key,
            STAGE_LABEL: label_value(stage)}


def label_filter(labels: dict[str, str]) -> str:
    """A Vertex list filter matching every given label, e.g. ``labels.nasctl-key="x"``."""
    return " AND ".join(f'labels.{key}="{value}"' for key, value in labels.items())
