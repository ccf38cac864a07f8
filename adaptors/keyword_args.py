"""Keyword arguments a spec passes to one of nasctl's components (a prebuilt trainer's `args`, a search
algorithm's `algorithmSettings`), as pydantic models: camelCase keys (snake_case accepted), unknown keys
refused with a "did you mean", every problem located so `validate` can give its field path and YAML line."""
from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from adaptors.suggest import did_you_mean

Location = tuple[str | int, ...]


class KeywordArgs(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")
    owner: ClassVar[str]  # the component that takes them: "image-classifier", "evolution"
    noun: ClassVar[str] = "argument"

    @classmethod
    def problems(cls, raw: dict[str, Any]) -> list[tuple[Location, str]]:
        """(location in `raw`, problem) for each key or value the component refuses."""
        try:
            cls.model_validate(raw)
        except ValidationError as exc:
            return cls.located(exc)
        return []

    @classmethod
    def parse_or_raise(cls, raw: dict[str, Any]) -> Self:
        """The model of `raw`; a refused one raises ValueError listing every problem."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{cls.owner}: {cls.listed(exc)}") from None

    @classmethod
    def names(cls) -> list[str]:
        return [field.alias or name for name, field in cls.model_fields.items()]

    @classmethod
    def listed(cls, exc: ValidationError) -> str:
        return "; ".join(f"{'.'.join(map(str, loc))}: {message}" if loc else message
                         for loc, message in cls.located(exc))

    @classmethod
    def located(cls, exc: ValidationError) -> list[tuple[Location, str]]:
        return [(tuple(error["loc"]), cls._explain(error)) for error in exc.errors()]

    @classmethod
    def _explain(cls, error: Any) -> str:
        if error["type"] != "extra_forbidden" or len(error["loc"]) != 1:
            return error["msg"].removeprefix("Value error, ")
        names = cls.names()
        hint = did_you_mean(str(error["loc"][0]), names, f" (its {cls.noun}s: {', '.join(names) or 'none'})")
        return f"{cls.owner} takes no {cls.noun} {error['loc'][0]!r}{hint}"
