"""Counting the classes and working out how many synthetic rows each base row gets."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from smote_spark.errors import InvalidDataError, InvalidParameterError
from smote_spark.settings import SmoteSettings
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
    return round_half_up(minority_rows * percentage / 100.0)


def plan_classes(counts: dict[Any, int], settings: SmoteSettings) -> list[ClassPlan]:
    """The classes to oversample and how many rows each gains, in label order.

    One of four ways to ask (see `SmoteSettings`): ``percentage`` of the minority class or
    of ``classes``; ``balance`` every class up to the majority; ``target_ratio`` of the
    majority count; ``target_counts`` per class. Targets round halves up.

    Raises
    ------
    InvalidDataError
        If the label has nulls, or fewer than two classes.
    InvalidParameterError
        If a named class is absent, or a target is below a class's current count.
    """
    _check_counts(counts, settings.label_col)
    majority = max(counts.values())
    if settings.balance:
        targets = {label: majority for label in counts}
    elif settings.target_counts is not None:
        targets = {
            _resolve(counts, settings.label_col, label, "target_counts"): n
            for label, n in settings.target_counts.items()
        }
    else:
        chosen = _chosen_classes(counts, settings)
        if settings.target_ratio is not None:
            target = round_half_up(settings.target_ratio * majority)
            targets = {label: target for label in chosen}
        else:
            targets = {
                label: counts[label] + synthetic_count(counts[label], settings.percentage)
                for label in chosen
            }
    low = {label: (counts[label], n) for label, n in targets.items() if n < counts[label]}
    if low:
        described = ", ".join(
            f"class {label!r} has {c} rows, target {n}" for label, (c, n) in low.items()
        )
        raise InvalidParameterError(
            f"{_asked_by(settings)}: a target is below a class's current count ({described}); "
            "SMOTE only adds rows. Raise the target, or leave that class out."
        )
    plans = [ClassPlan(label, counts[label], n - counts[label]) for label, n in targets.items()]
    return sorted(plans, key=lambda plan: _label_order(plan.minority_label))


def round_half_up(value: float) -> int:
    """A target is rounded, never truncated: halves go up."""
    return int(math.floor(value + 0.5))


def _asked_by(settings: SmoteSettings) -> str:
    if settings.balance:
        return "balance"
    if settings.target_counts is not None:
        return "target_counts"
    if settings.target_ratio is not None:
        return "target_ratio"
    return "percentage"


def _check_counts(counts: dict[Any, int], label_col: str) -> None:
    # NaN in a float label is a missing label too, not a class (Spark groups NaNs as one).
    nan = sum(n for label, n in counts.items() if isinstance(label, float) and math.isnan(label))
    missing = [f"{n} {kind}" for kind, n in (("null", counts.get(None, 0)), ("NaN", nan)) if n]
    if missing:
        raise InvalidDataError(
            f"label column {label_col!r} has {' and '.join(missing)} values; "
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


def _chosen_classes(counts: dict[Any, int], settings: SmoteSettings) -> list[Any]:
    if settings.classes is not None:
        return [_resolve(counts, settings.label_col, c, "classes") for c in settings.classes]
    if settings.minority_label is not None:
        return [_resolve(counts, settings.label_col, settings.minority_label, "minority_label")]
    return [_smallest(counts)]


def _smallest(counts: dict[Any, int]) -> Any:
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


def _resolve(counts: dict[Any, int], label_col: str, requested: Any, parameter: str) -> Any:
    for label in counts:
        if _same_label(label, requested):
            return label
    hint = ""
    if isinstance(requested, bool) and any(isinstance(label, str) for label in counts):
        # YAML 1.1 reads an unquoted yes/no/on/off/true/false as a boolean.
        hint = " If the label is text such as 'NO' or 'on', quote it in the config file."
    raise InvalidParameterError(
        f"{parameter}: no row has {label_col!r} equal to {requested!r}; "
        f"the classes are {sorted(counts, key=_label_order)}.{hint}"
    )


def _label_order(label: Any) -> tuple[str, float, str]:
    """Labels in a stable order: numbers by value (10 after 2), other values by text."""
    if isinstance(label, int | float | Decimal) and not isinstance(label, bool):
        return ("number", float(label), str(label))
    return (type(label).__name__, 0.0, str(label))


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
