"""`SMOTE`, the Spark ML stage: Params in Spark's style over the one rule table."""

from __future__ import annotations

from typing import Any

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame

from smote_spark.resampling import oversample
from smote_spark.settings import SmoteSettings


def _optional(convert: Any) -> Any:
    return lambda value: None if value is None else convert(value)


def _label_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"minorityLabel must be a bool, int, float or str; got {value!r}")


# Spark ML name -> (settings field, converter). Defaults live in SmoteSettings alone.
_PARAMS: dict[str, tuple[str, Any]] = {
    "labelCol": ("label_col", TypeConverters.toString),
    "inputCols": ("input_cols", _optional(TypeConverters.toListString)),
    "percentage": ("percentage", TypeConverters.toFloat),
    "k": ("k", TypeConverters.toInt),
    "seed": ("seed", _optional(TypeConverters.toInt)),
    "minorityLabel": ("minority_label", _label_value),
    "neighbourMode": ("neighbour_mode", TypeConverters.toString),
    "bucketLength": ("bucket_length", _optional(TypeConverters.toFloat)),
    "numHashTables": ("num_hash_tables", TypeConverters.toInt),
    "maxBucketSize": ("max_bucket_size", TypeConverters.toInt),
    "exactMaxRows": ("exact_max_rows", TypeConverters.toInt),
    "syntheticCol": ("synthetic_col", _optional(TypeConverters.toString)),
}


def _doc(field: str) -> str:
    description = SmoteSettings.model_fields[field].description
    return description or f"see SmoteSettings.{field}"


class SMOTE(Transformer, DefaultParamsReadable["SMOTE"], DefaultParamsWritable):
    """SMOTE as a Spark ML Transformer: returns the input rows plus synthetic minority rows.

    Every Param mirrors a field of `SmoteSettings` (same default, same rule): ``labelCol``,
    ``inputCols``, ``percentage``, ``k``, ``seed``, ``minorityLabel``, ``neighbourMode``
    (``auto``, ``exact``, ``lsh``), ``bucketLength``, ``numHashTables``,
    ``maxBucketSize``, ``exactMaxRows`` and ``syntheticCol``.

    Notes
    -----
    Use it on training data only: it adds rows. In a pipeline that also scores, wrap it so
    that it resamples while fitting and passes rows through when transforming.

    References
    ----------
    N. V. Chawla et al., "SMOTE: Synthetic Minority Over-sampling Technique", JAIR 16, 2002.

    Examples
    --------
    >>> SMOTE(labelCol="Class", percentage=200, k=5, seed=42).transform(df)  # doctest: +SKIP
    """

    labelCol = Param(Params._dummy(), "labelCol", _doc("label_col"), _PARAMS["labelCol"][1])
    inputCols = Param(Params._dummy(), "inputCols", _doc("input_cols"), _PARAMS["inputCols"][1])
    percentage = Param(Params._dummy(), "percentage", _doc("percentage"), _PARAMS["percentage"][1])
    k = Param(Params._dummy(), "k", _doc("k"), _PARAMS["k"][1])
    seed = Param(Params._dummy(), "seed", _doc("seed"), _PARAMS["seed"][1])
    minorityLabel = Param(
        Params._dummy(), "minorityLabel", _doc("minority_label"), _PARAMS["minorityLabel"][1]
    )
    neighbourMode = Param(
        Params._dummy(), "neighbourMode", _doc("neighbour_mode"), _PARAMS["neighbourMode"][1]
    )
    bucketLength = Param(
        Params._dummy(), "bucketLength", _doc("bucket_length"), _PARAMS["bucketLength"][1]
    )
    numHashTables = Param(
        Params._dummy(), "numHashTables", _doc("num_hash_tables"), _PARAMS["numHashTables"][1]
    )
    maxBucketSize = Param(
        Params._dummy(), "maxBucketSize", _doc("max_bucket_size"), _PARAMS["maxBucketSize"][1]
    )
    exactMaxRows = Param(
        Params._dummy(), "exactMaxRows", _doc("exact_max_rows"), _PARAMS["exactMaxRows"][1]
    )
    syntheticCol = Param(
        Params._dummy(), "syntheticCol", _doc("synthetic_col"), _PARAMS["syntheticCol"][1]
    )

    _input_kwargs: dict[str, Any]

    @keyword_only
    def __init__(self, **params: Any) -> None:
        super().__init__()
        defaults = SmoteSettings()
        self._setDefault(**{name: getattr(defaults, field) for name, (field, _) in _PARAMS.items()})
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(self, **params: Any) -> SMOTE:
        """Set any of the Params by name, e.g. ``setParams(k=3, seed=1)``."""
        unknown = sorted(set(self._input_kwargs) - set(_PARAMS))
        if unknown:
            raise TypeError(f"SMOTE has no Param {unknown}; its Params are {sorted(_PARAMS)}")
        return self._set(**self._input_kwargs)

    def settings(self) -> SmoteSettings:
        """The Params as validated `SmoteSettings` (raises InvalidParameterError)."""
        values = {field: self.getOrDefault(name) for name, (field, _) in _PARAMS.items()}
        return SmoteSettings.build(**values)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return oversample(dataset, self.settings()).dataframe
