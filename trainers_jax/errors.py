"""Errors of the prebuilt trainers' input side, shared by the modules that read and convert data."""
from __future__ import annotations


class DataError(ValueError):
    """Training data missing, unreadable or malformed (the message names the file)."""
