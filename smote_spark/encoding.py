"""Features as numbers: values to interpolate, nominal codes, the distance space, and back.

Per class being oversampled, `fit_encoding` reads the class once (twice with nominal
features), or `fit_local_encoding` takes a class exact mode has collected, and fixes
everything the other steps need:

- every non-nominal feature becomes a double to interpolate (`value_names`): numbers as
  they are, dates in days and timestamps in seconds since the epoch;
- every nominal feature becomes a code (`code_names`): the position of its value among the
  class's own values, sorted;
- the distance space (`search_names`): the doubles, optionally scaled, then one column per
  nominal value, ``weight`` where the row has that value and 0 elsewhere. Two rows that
  differ on one nominal feature are therefore ``weight * sqrt(2)`` = the median standard
  deviation apart on it, as in SMOTE-NC (Chawla et al., 2002, section 6.1).

The median is over the class's numeric features, after scaling if any (so 1 with standard
scaling). If it is 0 the largest standard deviation is used, and with no spread at all, or
no numeric feature, 1. So with every feature nominal the distance is the square root of the
number of features on which two rows differ (the overlap or Hamming count): a SMOTE-N style
distance, though not the value difference metric of Chawla et al.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from smote_spark.errors import InvalidDataError
from smote_spark.neighbours import search_names
from smote_spark.validation import Feature, check_bad_values, column

log = logging.getLogger(__name__)

# A nominal feature with more distinct values than this in one class is refused: it is
# almost surely an identifier, and one-hot distances over it would cost more than they tell.
MAX_NOMINAL_VALUES = 1000
# approx_count_distinct errs by about 5% (a column of 980 values can be estimated at 1012),
# so it only refuses columns estimated far beyond the limit, before their values are
# collected; the limit itself is applied to the exact count.
_SURELY_TOO_MANY = 2 * MAX_NOMINAL_VALUES
# Features up to which a class's statistics are one wide aggregation (see _class_stats).
_WIDE_STATS_COLUMNS = 100

# Values are interpolated as doubles, exact for integers up to 2**53 and 15 decimal digits.
_EXACT_INTEGER = 2**53
_EXACT_DIGITS = 15
# Spark's timestamp range, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, in microseconds.
_FIRST_MICROS = -62_135_596_800_000_000
_LAST_MICROS = 253_402_300_799_999_999

_INTEGER_RANGE: dict[type[T.DataType], tuple[int, int]] = {
    T.ByteType: (-(2**7), 2**7 - 1),
    T.ShortType: (-(2**15), 2**15 - 1),
    T.IntegerType: (-(2**31), 2**31 - 1),
    T.LongType: (-(2**63), 2**63 - 1),
}


def value_names(d: int) -> list[str]:
    """Internal names of the interpolated (double) features."""
    return [f"_f{i}" for i in range(d)]


def nominal_names(m: int) -> list[str]:
    """Internal names of the nominal features, as they are in the input."""
    return [f"_v{j}" for j in range(m)]


def code_names(m: int) -> list[str]:
    """Internal names of the nominal features' integer codes."""
    return [f"_c{j}" for j in range(m)]


def as_double(feature: Feature) -> Column:
    """The input column as the double that is interpolated."""
    col = column(feature.name)
    if feature.kind == "date":
        return F.unix_date(col).cast("double")
    if feature.kind == "timestamp":
        return F.unix_micros(col) / F.lit(1e6)
    return col.cast("double")


def class_rows(df: DataFrame, label_col: str, label: Any, features: list[Feature]) -> DataFrame:
    """The rows of class ``label``: numeric features as `value_names` doubles, then nominal
    ones as they are under `nominal_names`, each group in input order."""
    numeric, nominal = _split(features)
    return df.filter(column(label_col) == F.lit(label)).select(
        *(as_double(f).alias(n) for f, n in zip(numeric, value_names(len(numeric)), strict=True)),
        *(
            column(f.name).alias(n)
            for f, n in zip(nominal, nominal_names(len(nominal)), strict=True)
        ),
    )


def restore(feature: Feature, value: Column) -> Column:
    """An interpolated double back in the feature's type: rounded, in range, same scale."""
    dtype = feature.dtype
    if feature.kind == "integer":
        low, high = _INTEGER_RANGE[type(dtype)]
        # Compared as doubles, the long limits are 2**63 and -2**63.
        return _clamped(F.round(value), low, high, dtype)
    if feature.kind == "decimal":
        assert isinstance(dtype, T.DecimalType)
        # A double may round beyond the type's largest value (to 1e17 for decimal(17,0)).
        exact = Context(prec=dtype.precision + 2)  # the default context keeps 28 digits
        largest = Decimal(10**dtype.precision - 1).scaleb(-dtype.scale, exact)
        return _clamped(F.round(value, dtype.scale), largest.copy_negate(), largest, dtype)
    if feature.kind == "date":
        return F.date_from_unix_date(F.round(value).cast("int"))
    if feature.kind == "timestamp":
        # Beyond 2**53 microseconds (after 2255) the double has lost microseconds and can
        # round past the last valid instant.
        micros = _clamped(F.round(value * F.lit(1e6)), _FIRST_MICROS, _LAST_MICROS, T.LongType())
        return F.timestamp_micros(micros)
    return value.cast(dtype)


def _clamped(rounded: Column, low: int | Decimal, high: int | Decimal, dtype: T.DataType) -> Column:
    """``rounded`` (a double) cast to ``dtype``, values beyond [low, high] replaced by the
    bound: compared as doubles, and every branch cast on its own, so that no value outside
    the type is ever cast."""
    return (
        F.when(rounded >= F.lit(float(high)), F.lit(high).cast(dtype))
        .when(rounded <= F.lit(float(low)), F.lit(low).cast(dtype))
        .otherwise(rounded.cast(dtype))
    )


@dataclass(frozen=True)
class ClassEncoding:
    """How one class's rows become codes and points of the distance space.

    Attributes
    ----------
    numeric, nominal : list of Feature
        The interpolated features and the nominal ones, in input order.
    centre, scale : list of float
        Distance-space coordinate of numeric feature i: ``(value - centre[i]) / scale[i]``.
    values : list of list
        Per nominal feature, the class's distinct values, sorted; a code indexes this list.
    weight : float
        Distance-space value of a nominal feature's one-hot column.
    spread : float
        Square root of the mean variance of the distance-space columns (sizes LSH buckets).
    """

    numeric: list[Feature]
    nominal: list[Feature]
    centre: list[float]
    scale: list[float]
    values: list[list[Any]]
    weight: float
    spread: float

    @property
    def width(self) -> int:
        """Columns of the distance space."""
        return len(self.numeric) + sum(len(v) for v in self.values)


def fit_encoding(
    minority: DataFrame, features: list[Feature], scaling: str, label: Any
) -> ClassEncoding:
    """Check the class's values and fit its encoding.

    ``minority`` holds `value_names` for the numeric features and `nominal_names` for the
    nominal ones (input order within each). One aggregation counts the bad values and takes
    the moments; a second one, only with nominal features, counts their values.

    Raises
    ------
    InvalidDataError
        For null, NaN or infinite feature values in the class, or a nominal feature with
        more than `MAX_NOMINAL_VALUES` values.
    """
    numeric, nominal = _split(features)
    doubles, raw = value_names(len(numeric)), nominal_names(len(nominal))
    stats = _class_stats(minority, doubles, raw)
    _check_stats(numeric, nominal, stats, label, exact=False)
    values, frequencies = _value_counts(minority, raw) if nominal else ([], [])
    return _fit(numeric, nominal, stats, values, frequencies, scaling, label)


def fit_local_encoding(
    frame: pd.DataFrame, features: list[Feature], scaling: str, label: Any
) -> ClassEncoding:
    """`fit_encoding` for a class collected to the driver (same columns, in pandas)."""
    numeric, nominal = _split(features)
    doubles, raw = value_names(len(numeric)), nominal_names(len(nominal))
    stats = _frame_stats(frame, doubles, raw)
    _check_stats(numeric, nominal, stats, label, exact=True)
    values, frequencies = _frame_value_counts(frame, raw)
    return _fit(numeric, nominal, stats, values, frequencies, scaling, label)


def _split(features: list[Feature]) -> tuple[list[Feature], list[Feature]]:
    return [f for f in features if not f.is_nominal], [f for f in features if f.is_nominal]


def _check_stats(
    numeric: list[Feature], nominal: list[Feature], stats: dict[str, Any], label: Any, exact: bool
) -> None:
    doubles, raw = value_names(len(numeric)), nominal_names(len(nominal))
    names = [f.name for f in numeric + nominal]
    bad = dict(zip(names, (int(stats[f"bad{n}"]) for n in doubles + raw), strict=True))
    check_bad_values(bad, label)
    _check_cardinality(nominal, [int(stats[f"distinct{n}"]) for n in raw], label, exact=exact)
    _warn_inexact(numeric, [(stats[f"min{n}"], stats[f"max{n}"]) for n in doubles], label)


def _fit(
    numeric: list[Feature],
    nominal: list[Feature],
    stats: dict[str, Any],
    values: list[list[Any]],
    frequencies: list[list[float]],
    scaling: str,
    label: Any,
) -> ClassEncoding:
    doubles = value_names(len(numeric))
    centre, scale = [], []
    for n in doubles:
        shift, unit = _scaling(scaling, stats, n)
        centre.append(shift)
        scale.append(unit)
    variances = [
        float(stats[f"var{n}"] or 0.0) / unit**2 for n, unit in zip(doubles, scale, strict=True)
    ]
    _check_cardinality(nominal, [len(v) for v in values], label, exact=True)
    weight = _median_spread(variances) / math.sqrt(2.0)
    one_hot = [weight**2 * sum(p * (1 - p) for p in ps) for ps in frequencies]
    width = len(numeric) + sum(len(v) for v in values)
    spread = math.sqrt((sum(variances) + sum(one_hot)) / width) if width else 0.0
    return ClassEncoding(numeric, nominal, centre, scale, values, weight, spread)


def encode(minority: DataFrame, encoding: ClassEncoding) -> DataFrame:
    """``key``, the doubles, the nominal codes and the distance-space columns."""
    doubles = value_names(len(encoding.numeric))
    raw, codes = nominal_names(len(encoding.nominal)), code_names(len(encoding.nominal))
    search = iter(search_names(encoding.width))
    columns = [F.col("key"), *(F.col(n) for n in doubles)]
    for n, c, values in zip(raw, codes, encoding.values, strict=True):
        position = F.array_position(F.array(*(F.lit(v) for v in values)), F.col(n))
        columns.append((position - 1).cast("int").alias(c))
    for n, shift, unit in zip(doubles, encoding.centre, encoding.scale, strict=True):
        scaled = F.col(n) if (shift, unit) == (0.0, 1.0) else (F.col(n) - shift) / unit
        columns.append(scaled.alias(next(search)))
    for c, values in zip(codes, encoding.values, strict=True):
        for code in range(len(values)):
            one_hot = F.when(F.col(c) == code, encoding.weight).otherwise(0.0)
            columns.append(one_hot.alias(next(search)))
    return minority.select(*columns)


def encode_local(
    frame: pd.DataFrame, encoding: ClassEncoding
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`encode` for a collected class: (distance-space points, doubles, nominal codes)."""
    values = frame[value_names(len(encoding.numeric))].to_numpy(np.float64)
    codes = np.empty((len(frame), len(encoding.nominal)), np.int64)
    for j, (n, known) in enumerate(
        zip(nominal_names(len(encoding.nominal)), encoding.values, strict=True)
    ):
        codes[:, j] = pd.Index(known).get_indexer(frame[n])
    points = np.empty((len(frame), encoding.width))
    # Scaling values near the float limit can overflow to inf, as it does in Spark, silently.
    with np.errstate(over="ignore", invalid="ignore"):
        for i, (shift, unit) in enumerate(zip(encoding.centre, encoding.scale, strict=True)):
            points[:, i] = (
                values[:, i] if (shift, unit) == (0.0, 1.0) else (values[:, i] - shift) / unit
            )
    at = len(encoding.numeric)
    for j, known in enumerate(encoding.values):
        one_hot = codes[:, j, None] == np.arange(len(known))
        points[:, at : at + len(known)] = np.where(one_hot, encoding.weight, 0.0)
        at += len(known)
    return points, values, codes


def synthetic_schema(encoding: ClassEncoding) -> str:
    """Spark schema of a class's synthetic rows before `decode`: doubles, then codes."""
    doubles = [f"{n} double" for n in value_names(len(encoding.numeric))]
    codes = [f"{n} int" for n in code_names(len(encoding.nominal))]
    return ", ".join(doubles + codes)


def decode(encoding: ClassEncoding, j: int, code: Column) -> Column:
    """Nominal feature ``j``'s value for a code, in the feature's type."""
    feature = encoding.nominal[j]
    values = F.array(*(F.lit(v) for v in encoding.values[j]))
    return F.element_at(values, code + 1).cast(feature.dtype)


def _class_stats(minority: DataFrame, doubles: list[str], raw: list[str]) -> dict[str, Any]:
    """Per column ``bad...``; per double ``mean...``, ``var...``, ``min...``, ``max...``;
    per nominal column ``distinct...`` (an estimate).

    Up to `_WIDE_STATS_COLUMNS` columns, one aggregation with an aggregate per column and
    statistic. Beyond, Spark's planning of that many aggregates dominates (about 10 ms
    each, a minute for 1,000 features), so the columns are exploded into (column, value)
    rows and aggregated per column: a small plan, for one row per value.
    """
    if len(doubles) + len(raw) <= _WIDE_STATS_COLUMNS:
        row = minority.agg(
            *(_bad_double(n).alias(f"bad{n}") for n in doubles),
            *(F.count_if(F.col(n).isNull()).alias(f"bad{n}") for n in raw),
            *(F.avg(n).alias(f"mean{n}") for n in doubles),
            *(F.var_pop(n).alias(f"var{n}") for n in doubles),
            *(F.min(n).alias(f"min{n}") for n in doubles),
            *(F.max(n).alias(f"max{n}") for n in doubles),
            *(F.approx_count_distinct(n).alias(f"distinct{n}") for n in raw),
        ).first()
        assert row is not None
        return row.asDict()
    stats: dict[str, Any] = {}
    long_forms = [
        (doubles, F.array(*doubles), [_bad_double("v").alias("bad"), *_moments("v")]),
        (
            raw,
            F.array(*(F.col(n).cast("string") for n in raw)),
            [
                F.count_if(F.col("v").isNull()).alias("bad"),
                F.approx_count_distinct("v").alias("distinct"),
            ],
        ),
    ]
    for names, values, aggregates in long_forms:
        if not names:
            continue
        pairs = minority.select(F.posexplode(values).alias("j", "v"))
        for row in pairs.groupBy("j").agg(*aggregates).collect():
            name = names[row["j"]]
            stats.update({f"{stat}{name}": value for stat, value in row.asDict().items()})
    return stats


def _frame_stats(frame: pd.DataFrame, doubles: list[str], raw: list[str]) -> dict[str, Any]:
    """`_class_stats` of a collected class; ``distinct...`` is exact here."""
    stats: dict[str, Any] = {}
    with np.errstate(all="ignore"):
        for n in doubles:
            x = frame[n].to_numpy(np.float64)
            stats[f"bad{n}"] = int(np.count_nonzero(~np.isfinite(x)))
            stats.update(
                {f"mean{n}": x.mean(), f"var{n}": x.var(), f"min{n}": x.min(), f"max{n}": x.max()}
            )
    for n in raw:
        stats[f"bad{n}"] = int(frame[n].isna().sum())
        stats[f"distinct{n}"] = int(frame[n].nunique())
    return {
        name: value.item() if isinstance(value, np.generic) else value
        for name, value in stats.items()
    }


def _moments(name: str) -> list[Column]:
    return [
        F.avg(name).alias("mean"),
        F.var_pop(name).alias("var"),
        F.min(name).alias("min"),
        F.max(name).alias("max"),
    ]


def _bad_double(name: str) -> Column:
    col = F.col(name)
    return F.count_if(col.isNull() | F.isnan(col) | (F.abs(col) == F.lit(float("inf"))))


def _check_cardinality(
    nominal: list[Feature], distinct: list[int], label: Any, exact: bool
) -> None:
    """Refuse nominal features with too many values: counted exactly, or estimated."""
    limit = MAX_NOMINAL_VALUES if exact else _SURELY_TOO_MANY
    wide = {f.name: n for f, n in zip(nominal, distinct, strict=True) if n > limit}
    if wide:
        about = "" if exact else "about "
        described = ", ".join(f"{name!r}: {about}{n}" for name, n in wide.items())
        raise InvalidDataError(
            f"input_cols: nominal features of class {label!r} have more than "
            f"{MAX_NOMINAL_VALUES} distinct values ({described}); such a column is usually "
            "an identifier or free text. Add it to exclude_cols."
        )


def _warn_inexact(numeric: list[Feature], ranges: list[tuple[Any, Any]], label: Any) -> None:
    """Warn where interpolating as doubles can move integers or decimals off their values.

    Such columns are not interpolated exactly (that would need offsets from the base row
    in their own type); the README's Limitations say so, and this warning names them.
    """
    inexact = []
    for feature, (low, high) in zip(numeric, ranges, strict=True):
        largest = max(abs(low or 0.0), abs(high or 0.0))
        if feature.kind == "integer" and largest > _EXACT_INTEGER:
            inexact.append(f"{feature.name!r} (values beyond 2**53)")
        elif feature.kind == "timestamp" and largest * 1e6 > _EXACT_INTEGER:
            inexact.append(f"{feature.name!r} (instants beyond 2**53 microseconds, after 2255)")
        elif isinstance(feature.dtype, T.DecimalType) and feature.dtype.precision > _EXACT_DIGITS:
            inexact.append(f"{feature.name!r} ({feature.dtype.simpleString()})")
    if inexact:
        log.warning(
            "class %r: %s are interpolated as doubles (about 15 significant digits), so "
            "synthetic values may differ from the segment, and a value constant in the "
            "class may change, in the last digits",
            label,
            ", ".join(inexact),
        )


def _scaling(scaling: str, stats: Any, name: str) -> tuple[float, float]:
    """(centre, scale) of one numeric feature; a constant feature keeps scale 1."""
    if scaling == "standard":
        shift, unit = float(stats[f"mean{name}"]), math.sqrt(float(stats[f"var{name}"] or 0.0))
    elif scaling == "minmax":
        shift = float(stats[f"min{name}"])
        unit = float(stats[f"max{name}"]) - shift
    else:
        return 0.0, 1.0
    if not (math.isfinite(unit) and unit > 0.0):
        unit = 1.0
    return shift, unit


def _median_spread(variances: list[float]) -> float:
    """Chawla's Med: the median standard deviation of the numeric features.

    If it is 0 (most numeric features constant) the largest is used, and with no spread at
    all (or no numeric feature) 1, so that nominal mismatches always count.
    """
    deviations = [math.sqrt(v) for v in variances if math.isfinite(v)]
    if not deviations:
        return 1.0
    for candidate in (statistics.median(deviations), max(deviations)):
        if candidate > 0.0:
            return candidate
    return 1.0


def _value_counts(minority: DataFrame, raw: list[str]) -> tuple[list[list[Any]], list[list[float]]]:
    """Per nominal column, its sorted distinct values and their shares, in one aggregation."""
    pairs = minority.select(
        F.explode(
            F.array(
                *(
                    F.struct(F.lit(j).alias("j"), F.col(n).cast("string").alias("v"))
                    for j, n in enumerate(raw)
                )
            )
        ).alias("p")
    )
    counted = pairs.groupBy("p.j", "p.v").count().collect()
    by_column: list[dict[str, int]] = [{} for _ in raw]
    for row in counted:
        by_column[row["j"]][row["v"]] = int(row["count"])
    values, shares = [], []
    for n, counts in zip(raw, by_column, strict=True):
        typed = _typed_values(minority.schema[n].dataType, list(counts))
        total = sum(counts.values())
        order = sorted(range(len(typed)), key=lambda i: typed[i])
        texts = list(counts)
        values.append([typed[i] for i in order])
        shares.append([counts[texts[i]] / total for i in order])
    return values, shares


def _frame_value_counts(
    frame: pd.DataFrame, raw: list[str]
) -> tuple[list[list[Any]], list[list[float]]]:
    """`_value_counts` of a collected class."""
    values, shares = [], []
    for n in raw:
        counts = frame[n].value_counts(sort=False)
        typed = [v.item() if isinstance(v, np.generic) else v for v in counts.index]
        order = sorted(range(len(typed)), key=lambda i: typed[i])
        values.append([typed[i] for i in order])
        shares.append([int(counts.iloc[i]) / len(frame) for i in order])
    return values, shares


def _typed_values(dtype: T.DataType, texts: list[str]) -> list[Any]:
    """Values cast to string for counting, back in their Python type."""
    if isinstance(dtype, T.BooleanType):
        return [text == "true" for text in texts]
    if isinstance(dtype, T.StringType):
        return texts
    return [int(text) for text in texts]
