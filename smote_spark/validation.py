"""Checks on columns, types and minority values, made before anything is written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Feature:
    """A feature column: its name in the input and its Spark type."""

    name: str
    dtype: T.DataType

    @property
    def is_integral(self) -> bool:
        return isinstance(self.dtype, INTEGRAL_TYPES)


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
    names = settings.input_cols
    if names is None:
        names = [name for name in df.columns if name != label]
    missing = [name for name in names if name not in fields]
    if missing:
        raise InvalidColumnError(
            f"input_cols: {missing} not in the input; its columns are {df.columns}."
        )
    if label in names:
        raise InvalidColumnError(
            f"input_cols: the label column {label!r} cannot also be a feature; remove it."
        )
    if not names:
        raise InvalidColumnError("input_cols: the input has no column besides the label.")
    features = [Feature(name, fields[name].dataType) for name in names]
    _check_feature_types(features, settings.input_cols is None)
    return features


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


def _check_feature_types(features: list[Feature], all_columns: bool) -> None:
    unusable = [f for f in features if not isinstance(f.dtype, NUMERIC_TYPES)]
    if unusable:
        described = ", ".join(f"{f.name!r} ({f.dtype.simpleString()})" for f in unusable)
        hint = (
            "set input_cols to the numeric feature columns"
            if all_columns
            else "remove them from input_cols"
        )
        raise ColumnTypeError(
            f"input_cols: feature columns must be numeric; found {described}. Non-feature "
            f"columns pass through and are null in synthetic rows: {hint}."
        )


def check_enough_rows(minority_rows: int, k: int, minority_label: object) -> None:
    """SMOTE needs k neighbours besides the row itself."""
    if minority_rows <= k:
        raise InvalidDataError(
            f"k: class {minority_label!r} has {minority_rows} rows, but k={k} neighbours "
            f"need at least {k + 1}; lower k below {minority_rows} or add rows of that class."
        )


def check_bad_values(bad_counts: dict[str, int], minority_label: object) -> None:
    """Refuse null, NaN or infinite feature values in rows of the class to oversample."""
    bad = {name: n for name, n in bad_counts.items() if n}
    if bad:
        described = ", ".join(f"{name!r}: {n} rows" for name, n in bad.items())
        raise InvalidDataError(
            f"input_cols: rows of class {minority_label!r} have null, NaN or infinite "
            f"values in feature columns ({described}); drop or impute those rows, or "
            "leave those columns out of input_cols."
        )
