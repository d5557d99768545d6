"""smote_spark: SMOTE (synthetic minority oversampling) for Spark DataFrames."""

from smote_spark.errors import (
    ColumnTypeError,
    InputTypeError,
    InvalidColumnError,
    InvalidDataError,
    InvalidParameterError,
    SmoteError,
)
from smote_spark.resampling import SmoteResult, minority_neighbours, oversample
from smote_spark.settings import SmoteSettings
from smote_spark.stage import SMOTE
from smote_spark.training import Oversampled, OversampledModel

__all__ = [
    "SMOTE",
    "ColumnTypeError",
    "InputTypeError",
    "InvalidColumnError",
    "InvalidDataError",
    "InvalidParameterError",
    "Oversampled",
    "OversampledModel",
    "SmoteError",
    "SmoteResult",
    "SmoteSettings",
    "minority_neighbours",
    "oversample",
]
