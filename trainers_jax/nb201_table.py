"""A NAS-Bench-201 table: architecture string → proxy (12-epoch) and full (200-epoch) accuracy, latencies.

The CIFAR-10 table ships with nasctl (benchmark data, MIT-licensed NAS-Bench-201 / HW-NAS-Bench);
any CSV in the same format (``arch,val_acc_12ep,test_acc_200ep,latency_<device>_ms...``) works.
"""
from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

BUNDLED_TABLE = Path(__file__).parent / "data" / "nb201_cifar10.csv.gz"
REQUIRED_COLUMNS = ("arch", "val_acc_12ep", "test_acc_200ep")


@dataclass(frozen=True)
class NB201Row:
    arch: str
    val_acc_12ep: float
    test_acc_200ep: float
    latencies_ms: dict[str, float]  # column name → value, e.g. {"latency_fpga_ms": 2.57}


class NB201Table:
    def __init__(self, rows: dict[str, NB201Row], source: str):
        self.rows = rows
        self.source = source

    @property
    def latency_columns(self) -> list[str]:
        first = next(iter(self.rows.values()))
        return sorted(first.latencies_ms)

    def lookup(self, arch_string: str) -> NB201Row:
        try:
            return self.rows[arch_string]
        except KeyError:
            raise KeyError(f"architecture {arch_string} is not in {self.source}") from None


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read NB201 table {path}: {exc.strerror}") from None
    return gzip.decompress(raw).decode() if path.suffix == ".gz" else raw.decode()


def _header(text: str, source: Path) -> list[str]:
    columns = text[: text.index("\n")].strip().split(",")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"{source}: missing columns {missing}; expected {REQUIRED_COLUMNS} + latency_<device>_ms")
    return columns


def _parse_row(columns: list[str], line: str, where: str) -> NB201Row:
    record = dict(zip(columns, next(csv.reader([line]))))
    try:
        return NB201Row(
            arch=record["arch"],
            val_acc_12ep=float(record["val_acc_12ep"]),
            test_acc_200ep=float(record["test_acc_200ep"]),
            latencies_ms={c: float(v) for c, v in record.items() if c.startswith("latency_") and v != ""},
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _source(path: str | Path | None) -> Path:
    return Path(path) if path else BUNDLED_TABLE


@lru_cache(maxsize=4)
def load_table(path: str | Path | None = None) -> NB201Table:
    """Load (and cache) a whole table; None = the bundled CIFAR-10 table."""
    source = _source(path)
    text = _read_text(source)
    columns = _header(text, source)
    rows = {}
    for line_number, line in enumerate(text.splitlines()[1:], start=2):
        if line.strip():
            row = _parse_row(columns, line, f"{source}:{line_number}")
            rows[row.arch] = row
    return NB201Table(rows, str(source))


def find_row(arch: str, path: str | Path | None = None) -> NB201Row:
    """One architecture's row without parsing the whole table (what a single trial needs)."""
    source = _source(path)
    text = _read_text(source)
    columns = _header(text, source)
    start = text.find("\n" + arch + ",")
    if start < 0:
        raise KeyError(f"architecture {arch} is not in {source}")
    end = text.find("\n", start + 1)
    return _parse_row(columns, text[start + 1: end if end >= 0 else None], str(source))
