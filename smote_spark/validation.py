"""Checks on columns, types and minority values, made before anything is written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from smote_spark.errors import ColumnTypeError, InvalidColumnError, InvalidDataError
from smote_spark.settings import SmoteSettings

NUMERIC_TYPES = (
    T.ByteType,
    T.ShortType,
    T.IntegerType,
    T.LongType,
    T.FloatType,
    T.DoubleType,
    T.DecimalType,
)
INTEGRAL_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
LABEL_TYPES = (*NUMERIC_TYPES, T.StringType, T.BooleanType)


def column(name: str) -> Column:
    """A column by its exact name, even one with dots, spaces or backticks in it."""
    return F.col("`" + name.replace("`", "``") + "`")


FeatureKind = Literal["number", "integer", "decimal", "date", "timestamp", "nominal"]


@dataclass(frozen=True)
class Feature:
    """A feature column: its name in the input, its Spark type, and how SMOTE treats it.

    ``nominal`` features take the most frequent value among the neighbours; all other
    kinds are interpolated as doubles (dates in days, timestamps in seconds since the
    epoch) and converted back to their type.
    """

    name: str
    dtype: T.DataType
    kind: FeatureKind

    @property
    def is_nominal(self) -> bool:
        return self.kind == "nominal"


def feature_kind(dtype: T.DataType, nominal: bool) -> FeatureKind | None:
    """How a column of this type is used, or None if it cannot be a feature."""
    if isinstance(dtype, T.StringType | T.BooleanType):
        return "nominal"
    if isinstance(dtype, INTEGRAL_TYPES):
        return "nominal" if nominal else "integer"
    if nominal:
        return None
    if isinstance(dtype, T.FloatType | T.DoubleType):
        return "number"
    if isinstance(dtype, T.DecimalType):
        return "decimal"
    if isinstance(dtype, T.DateType):
        return "date"
    if isinstance(dtype, T.TimestampType):
        return "timestamp"
    return None


def check_columns(df: DataFrame, settings: SmoteSettings) -> list[Feature]:
    """Validate the label and feature columns and return the features in input order."""
    check_label(df, settings)
    fields = {field.name: field for field in df.schema.fields}
    label = settings.label_col
    if settings.synthetic_col is not None and settings.synthetic_col in fields:
        raise InvalidColumnError(
            f"synthetic_col: column {settings.synthetic_col!r} is already in the input; "
            "choose a name the input does not use."
        )
    for parameter in ("input_cols", "exclude_cols", "nominal_cols"):
        missing = [name for name in getattr(settings, parameter) or [] if name not in fields]
        if missing:
            raise InvalidColumnError(
                f"{parameter}: {missing} not in the input; its columns are {df.columns}."
            )
    if label in (settings.input_cols or []):
        raise InvalidColumnError(
            f"input_cols: the label column {label!r} cannot also be a feature; remove it."
        )
    excluded = set(settings.exclude_cols or [])
    names = settings.input_cols if settings.input_cols is not None else df.columns
    names = [name for name in names if name != label and name not in excluded]
    if not names:
        raise InvalidColumnError(
            "input_cols: no feature column is left besides the label and exclude_cols; "
            "name at least one feature."
        )
    nominal = set(settings.nominal_cols or [])
    stray = sorted(nominal - set(names))
    if stray:
        raise InvalidColumnError(
            f"nominal_cols: {stray} are not features (see input_cols and exclude_cols); "
            "remove them from nominal_cols or make them features."
        )
    features = []
    unusable = []
    for name in names:
        dtype = fields[name].dataType
        kind = feature_kind(dtype, name in nominal)
        if kind is None:
            unusable.append((name, dtype, name in nominal))
        else:
            features.append(Feature(name, dtype, kind))
    if unusable:
        _refuse_types(unusable, settings.input_cols is None)
    return features


def _refuse_types(unusable: list[tuple[str, T.DataType, bool]], inferred: bool) -> None:
    described = ", ".join(
        f"{name!r} ({dtype.simpleString()}{', declared nominal' if nominal else ''})"
        for name, dtype, nominal in unusable
    )
    hint = "add them to exclude_cols" if inferred else "remove them from input_cols"
    raise ColumnTypeError(
        f"input_cols: these columns cannot be features: {described}. Features may be "
        "numbers, decimals, dates and timestamps (interpolated), or strings, booleans and "
        "integers named in nominal_cols (categories). Columns that are not features pass "
        f"through and are null in synthetic rows: {hint}."
    )


def check_label(df: DataFrame, settings: SmoteSettings) -> None:
    """Column names unique, and the label column present with a usable type."""
    _check_unique_names(df)
    fields = {field.name: field for field in df.schema.fields}
    label = settings.label_col
    if label not in fields:
        raise InvalidColumnError(
            f"label_col: column {label!r} is not in the input; its columns are "
            f"{df.columns}. Set label_col to one of them."
        )
    if not isinstance(fields[label].dataType, LABEL_TYPES):
        raise ColumnTypeError(
            f"label_col: column {label!r} has type {fields[label].dataType.simpleString()}; "
            "a label must be an integer, double, decimal, string or boolean column."
        )


def _check_unique_names(df: DataFrame) -> None:
    repeated = sorted(name for name, n in Counter(df.columns).items() if n > 1)
    if repeated:
        raise InvalidColumnError(
            f"the input has more than one column named {repeated}; rename them so that "
            "every column name is unique."
        )
    # Spark resolves names without case by default, so 'a' and 'A' are the same column
    # there, and naming either would fail as ambiguous.
    by_case: dict[str, list[str]] = {}
    for name in df.columns:
        by_case.setdefault(name.lower(), []).append(name)
    clashes = sorted(sorted(names) for names in by_case.values() if len(names) > 1)
    if (
        clashes
        and str(df.sparkSession.conf.get("spark.sql.caseSensitive", "false")).lower() != "true"
    ):
        raise InvalidColumnError(
            f"the input has columns whose names differ only in case ({clashes}), and Spark "
            "compares column names without case (spark.sql.caseSensitive is false); rename "
            "them so that every column name is unique, ignoring case."
        )


def check_enough_rows(minority_rows: int, k: int, minority_label: object) -> None:
    """SMOTE needs k neighbours besides the row itself."""
    if minority_rows <= k:
        raise InvalidDataError(
            f"k: class {minority_label!r} has {minority_rows} rows, but k={k} neighbours "
            f"need at least {k + 1}; lower k below {minority_rows} or add rows of that class."
        )


def check_bad_values(bad_counts: dict[str, int], minority_label: object) -> None:
    """Refuse null, NaN or infinite feature values in rows of a class to oversample."""
    bad = {name: n for name, n in bad_counts.items() if n}
    if bad:
        described = ", ".join(f"{name!r}: {n} rows" for name, n in bad.items())
        raise InvalidDataError(
            f"input_cols: rows of class {minority_label!r} have null, NaN or infinite "
            f"values in feature columns ({described}); drop or impute those rows, or "
            "leave those columns out of input_cols."
        )
