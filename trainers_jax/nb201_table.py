"""A NAS-Bench-201 table: architecture string → proxy (12-epoch) and full (200-epoch) accuracy, latencies.

The CIFAR-10 table ships with nasctl (benchmark data, MIT-licensed NAS-Bench-201 / HW-NAS-Bench);
any CSV in the same format (``arch,val_acc_12ep,test_acc_200ep,latency_<device>_ms...``) works.
"""
from __future__ import annotations

import csv
import gzip
import io
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


@lru_cache(maxsize=4)
def load_table(path: str | Path | None = None) -> NB201Table:
    """Load (and cache) a table; None = the bundled CIFAR-10 table."""
    source = Path(path) if path else BUNDLED_TABLE
    reader = csv.DictReader(io.StringIO(_read_text(source)))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{source}: missing columns {missing}; expected {REQUIRED_COLUMNS} + latency_<device>_ms")
    latency_columns = [c for c in reader.fieldnames or [] if c.startswith("latency_")]
    rows = {}
    for line_number, record in enumerate(reader, start=2):
        try:
            rows[record["arch"]] = NB201Row(
                arch=record["arch"],
                val_acc_12ep=float(record["val_acc_12ep"]),
                test_acc_200ep=float(record["test_acc_200ep"]),
                latencies_ms={c: float(record[c]) for c in latency_columns if record.get(c) not in (None, "")},
            )
        except ValueError as exc:
            raise ValueError(f"{source}:{line_number}: {exc}") from None
    return NB201Table(rows, str(source))
