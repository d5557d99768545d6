"""The one rule table for SMOTE's parameters, checked before any Spark work."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smote_spark.errors import InvalidParameterError

NeighbourMode = Literal["auto", "exact", "lsh"]
LabelValue = bool | int | float | str


class SmoteSettings(BaseModel):
    """Every parameter of a SMOTE run, with its one default and its rule.

    Each field's description (below) is also the doc of the matching Param of `SMOTE`.
    Build with `SmoteSettings.build`, which raises `InvalidParameterError`.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=False, use_attribute_docstrings=True
    )

    label_col: str = Field(default="label", min_length=1)
    """Name of the class label column."""

    input_cols: list[str] | None = None
    """Feature columns; None means every column but the label."""

    percentage: float = Field(default=100.0, ge=0.0)
    """SMOTE percentage P: adds round(n_minority * P / 100) synthetic rows."""

    k: int = Field(default=5, ge=1)
    """Nearest neighbours (same class) that a new row may be drawn towards."""

    seed: int | None = Field(default=None, ge=0, lt=2**63)
    """Seed of every random choice; None draws one, which is logged and reported."""

    minority_label: LabelValue | None = None
    """The class to oversample; None picks the class with the fewest rows."""

    neighbour_mode: NeighbourMode = "auto"
    """How neighbours are found: 'exact', 'lsh', or 'auto' (exact up to exact_max_rows rows)."""

    bucket_length: float | None = Field(default=None, gt=0.0)
    """Width of an LSH random-projection bucket; None derives it from the data."""

    num_hash_tables: int = Field(default=8, ge=1, le=64)
    """Independent LSH tables; each gives every row one candidate bucket."""

    max_bucket_size: int = Field(default=1000, ge=2, le=100_000)
    """Most rows compared inside one LSH bucket; larger buckets are split."""

    exact_max_rows: int = Field(default=20_000, ge=0)
    """Largest class that 'auto' searches exactly."""

    synthetic_col: str | None = Field(default=None, min_length=1)
    """If set, a boolean column of this name marks synthetic rows (true)."""

    @field_validator("percentage", "bucket_length")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("input_cols")
    @classmethod
    def _distinct_columns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("must name at least one column, or be left out for all")
            repeated = sorted({c for c in value if value.count(c) > 1})
            if repeated:
                raise ValueError(f"names {repeated} more than once; list each column once")
        return value

    @classmethod
    def build(cls, **values: Any) -> SmoteSettings:
        """Validate ``values`` and return settings, or raise `InvalidParameterError`."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InvalidParameterError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per broken rule: ``name: rule (got value).``"""
    lines = []
    for error in exc.errors():
        name = prefix + ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown parameter; remove it or check its spelling.")
        elif error["type"] == "missing":
            lines.append(f"{name}: a value is required and none was given.")
        else:
            rule = error["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {rule} (got {error.get('input')!r}).")
    return " ".join(lines)
