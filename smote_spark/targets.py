"""Counting the classes and working out how many synthetic rows each base row gets."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from smote_spark.errors import InvalidDataError, InvalidParameterError
from smote_spark.validation import column

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassPlan:
    """How the minority class is oversampled.

    Every minority row gets ``children_per_row`` synthetic rows, and ``extra_children`` of
    them (a seeded subset) one more, so that ``synthetic_rows`` is exact.
    """

    minority_label: Any
    minority_rows: int
    synthetic_rows: int

    @property
    def children_per_row(self) -> int:
        return self.synthetic_rows // self.minority_rows

    @property
    def extra_children(self) -> int:
        return self.synthetic_rows - self.children_per_row * self.minority_rows


def count_classes(df: DataFrame, label_col: str) -> dict[Any, int]:
    """Rows per label value, reading the label column alone."""
    rows = df.groupBy(column(label_col).alias("label")).agg(F.count(F.lit(1)).alias("n"))
    return {row["label"]: int(row["n"]) for row in rows.collect()}


def synthetic_count(minority_rows: int, percentage: float) -> int:
    """``round(n * P / 100)``, halves rounded up (a target is rounded, never truncated)."""
    return int(math.floor(minority_rows * percentage / 100.0 + 0.5))


def plan_minority(
    counts: dict[Any, int], label_col: str, percentage: float, minority_label: Any = None
) -> ClassPlan:
    """Pick the class to oversample and the number of rows to add.

    Raises
    ------
    InvalidDataError
        If the label has nulls, fewer than two classes, or the named class is absent.
    """
    if None in counts:
        raise InvalidDataError(
            f"label column {label_col!r} has {counts[None]} null values; "
            "drop or fill those rows before oversampling."
        )
    if not counts:
        raise InvalidDataError(
            "the input has no rows; check the input path and any filter applied to it."
        )
    if len(counts) < 2:
        ((label, n),) = counts.items()
        raise InvalidDataError(
            f"label column {label_col!r} needs at least two classes to oversample one; "
            f"found only class {label!r} ({n} rows). Check the input and the label column."
        )
    label = _resolve_minority(counts, label_col, minority_label)
    return ClassPlan(label, counts[label], synthetic_count(counts[label], percentage))


def _resolve_minority(counts: dict[Any, int], label_col: str, requested: Any) -> Any:
    if requested is None:
        smallest = min(counts.values())
        tied = sorted((label for label, n in counts.items() if n == smallest), key=_label_order)
        if len(tied) > 1:
            log.warning(
                "classes %s tie for the fewest rows (%d); oversampling %r, the first in "
                "sorted order. Set minority_label to choose another.",
                tied,
                smallest,
                tied[0],
            )
        return tied[0]
    for label in counts:
        if _same_label(label, requested):
            return label
    raise InvalidParameterError(
        f"minority_label: no row has {label_col!r} equal to {requested!r}; "
        f"the classes are {sorted(counts, key=_label_order)}."
    )


def _label_order(label: Any) -> tuple[str, str]:
    return (type(label).__name__, str(label))


def _same_label(label: Any, requested: Any) -> bool:
    """Compare a label value with what a user typed (a config may give ``"1"`` for 1)."""
    if isinstance(label, bool) or isinstance(requested, bool):
        return str(label).lower() == str(requested).lower()
    if isinstance(label, int | float) and not isinstance(label, bool):
        try:
            return float(requested) == float(label)
        except (TypeError, ValueError):
            return False
    return str(label) == str(requested)
