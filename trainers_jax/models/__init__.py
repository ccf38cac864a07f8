"""Model families by architecture shape, and the JSON description a saved model is rebuilt from.

``{"blocks": [...]}`` is a MnasNet-family network, ``{"edges": [...]}`` an NB201 cell network. A
:class:`ModelConfig` (architecture + scaling + classes + input) is saved next to the trained weights so
the latency calculator can rebuild the exact model in another process or on another machine.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any



class ArchitectureError(ValueError):
    """The architecture cannot be built (the trial fails with this reason)."""


@dataclass(frozen=True)
class ModelConfig:
    arch: Any
    num_classes: int
    image_size: int
    channels: int = 3  # input channels
    width: float = 1.0  # MnasNet width multiplier
    depth: float = 1.0  # MnasNet depth multiplier
    nb201_channels: int = 16
    nb201_cells: int = 5

    @property
    def family(self) -> str:
        if isinstance(self.arch, dict) and "blocks" in self.arch:
            return "mnasnet"
        if isinstance(self.arch, dict) and "edges" in self.arch:
            return "nb201"
        raise ArchitectureError(f"unknown architecture shape (expected 'blocks' or 'edges'): {self.arch!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ModelConfig":
        return cls(**data)


def build_model(config: ModelConfig, dtype: Any = None) -> Any:
    """The Flax module for `config`; raises ArchitectureError when it cannot be built."""
    import jax.numpy as jnp  # noqa: PLC0415

    dtype = dtype or jnp.float32
    if config.family == "mnasnet":
        from trainers_jax.models import mnasnet  # noqa: PLC0415

        return mnasnet.build(config.arch, config.num_classes, config.width, config.depth, dtype)
    from trainers_jax.models import nb201  # noqa: PLC0415

    return nb201.build(config.arch, config.num_classes, config.nb201_channels, config.nb201_cells, dtype)
