"""The one rule table for SMOTE's parameters, checked before any Spark work."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from smote_spark.errors import InvalidParameterError

NeighbourMode = Literal["auto", "exact", "lsh"]
Scaling = Literal["none", "standard", "minmax"]
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
    """Feature columns; None means every column but the label (and exclude_cols)."""

    exclude_cols: list[str] | None = None
    """Columns never used as features (identifiers, free text); null in synthetic rows."""

    nominal_cols: list[str] | None = None
    """Integer features to treat as categories; string and boolean features always are."""

    percentage: float = Field(default=100.0, ge=0.0)
    """SMOTE percentage P: each class oversampled gains round(n * P / 100) rows."""

    classes: list[LabelValue] | None = None
    """Classes that percentage or target_ratio apply to; None means the minority class."""

    balance: bool = False
    """If true, every class is raised to the majority class's count."""

    target_ratio: float | None = Field(default=None, gt=0.0)
    """Each class oversampled ends with round(ratio * majority count) rows."""

    target_counts: dict[LabelValue, int] | None = None
    """Rows each named class ends with, e.g. {1: 500, 2: 500}; others are untouched."""

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

    num_hash_tables: int | None = Field(default=None, ge=1, le=64)
    """Independent LSH tables, each a bucket per row; None: 8, more for large classes."""

    max_bucket_size: int = Field(default=2000, ge=2, le=100_000)
    """Most rows compared inside one LSH bucket; larger buckets are split."""

    exact_max_rows: int = Field(default=100_000, ge=0)
    """Largest class that 'auto' searches exactly."""

    driver_max_rows: int = Field(default=50_000, ge=0)
    """Exact mode searches a class of at most this many rows on the driver, larger in tasks."""

    scaling: Scaling = "none"
    """Scaling for the distance only ('standard', 'minmax'), fitted per class."""

    synthetic_col: str | None = Field(default=None, min_length=1)
    """If set, a boolean column of this name marks synthetic rows (true)."""

    @field_validator(
        "percentage",
        "target_ratio",
        "k",
        "seed",
        "bucket_length",
        "num_hash_tables",
        "max_bucket_size",
        "exact_max_rows",
        "driver_max_rows",
        mode="before",
    )
    @classmethod
    def _not_boolean(cls, value: Any) -> Any:
        # Lax parsing would read true as 1 (and YAML reads yes, on, true as true).
        if isinstance(value, bool):
            raise ValueError("must be a number, not true or false")
        return value

    @field_validator("percentage", "bucket_length", "target_ratio")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("input_cols", "classes")
    @classmethod
    def _not_empty(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None and not value:
            raise ValueError("must name at least one, or be left out")
        return value

    @field_validator("input_cols", "exclude_cols", "nominal_cols", "classes")
    @classmethod
    def _distinct(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None:
            repeated = sorted({str(c) for c in value if value.count(c) > 1})
            if repeated:
                raise ValueError(f"names {repeated} more than once; list each once")
        return value

    @field_validator("target_counts", mode="before")
    @classmethod
    def _counts_not_boolean(cls, value: Any) -> Any:
        if isinstance(value, dict):
            flags = {label: n for label, n in value.items() if isinstance(n, bool)}
            if flags:
                raise ValueError(f"counts must be numbers, not true or false; found {flags}")
        return value

    @field_validator("target_counts")
    @classmethod
    def _counts(cls, value: dict[Any, int] | None) -> dict[Any, int] | None:
        if value is not None:
            if not value:
                raise ValueError("must name at least one class, or be left out")
            negative = {label: n for label, n in value.items() if n < 0}
            if negative:
                raise ValueError(f"counts must be >= 0; found {negative}")
        return value

    @model_validator(mode="after")
    def _one_way_to_ask(self) -> SmoteSettings:
        chosen = [
            name
            for name in ("balance", "target_ratio", "target_counts")
            if getattr(self, name) not in (None, False)
        ]
        if "percentage" in self.model_fields_set and chosen:
            chosen.insert(0, "percentage")
        if len(chosen) > 1:
            raise ValueError(
                f"give one way to ask for rows, not {chosen}: percentage, balance, "
                "target_ratio or target_counts"
            )
        if self.classes is not None and self.minority_label is not None:
            raise ValueError("give classes or minority_label, not both")
        if self.classes is not None and chosen and chosen[0] in ("balance", "target_counts"):
            raise ValueError(f"classes cannot be combined with {chosen[0]}, which names its own")
        return self

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
        if not error["loc"]:
            # A rule across several parameters names them itself.
            rule = error["msg"].removeprefix("Value error, ")
            lines.append(f"{prefix.rstrip('.') or 'parameters'}: {rule}.")
        elif error["type"] == "extra_forbidden":
            lines.append(f"{name}: unknown parameter; remove it or check its spelling.")
        elif error["type"] == "missing":
            lines.append(f"{name}: a value is required and none was given.")
        else:
            rule = error["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {rule} (got {error.get('input')!r}).")
    return " ".join(lines)
