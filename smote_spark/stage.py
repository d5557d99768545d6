"""`SMOTE`, the Spark ML stage: Params in Spark's style over the one rule table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import (
    DefaultParamsReadable,
    DefaultParamsWritable,
    DefaultParamsWriter,
    MLWriter,
    _remove_dfs_dir,
)
from pyspark.sql import DataFrame

from smote_spark.errors import InvalidParameterError
from smote_spark.resampling import oversample
from smote_spark.settings import SmoteSettings

Converter = Callable[[Any], Any]


def _optional(convert: Converter) -> Converter:
    return lambda value: None if value is None else convert(value)


def _label(name: str) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, bool | int | float | str):
            return value
        raise InvalidParameterError(
            f"{name}: a class label must be a bool, int, float or str (got {value!r})."
        )

    return convert


def _labels(value: Any) -> list[Any]:
    if isinstance(value, str | bytes | Mapping) or not hasattr(value, "__iter__"):
        raise InvalidParameterError(f"classes: must be a list of class labels (got {value!r}).")
    return [_label("classes")(label) for label in value]


def _label_counts(value: Any) -> list[list[Any]]:
    """``{label: count}`` or ``[(label, count), ...]`` as a list of ``[label, count]`` pairs.

    Pairs, not a dict: Spark ML saves Params as JSON, whose object keys are strings, which
    would turn the label ``1`` into ``"1"`` on load. A list keeps each label's type.
    """
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        return [[_label("targetCounts")(label), TypeConverters.toInt(n)] for label, n in pairs]
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidParameterError):
            raise
        raise InvalidParameterError(
            f"targetCounts: must map class labels to whole row counts, e.g. {{1: 500}} "
            f"(got {value!r})."
        ) from None


# Spark ML name -> (settings field, converter). Defaults live in SmoteSettings alone.
_PARAMS: dict[str, tuple[str, Converter]] = {
    "labelCol": ("label_col", TypeConverters.toString),
    "inputCols": ("input_cols", _optional(TypeConverters.toListString)),
    "excludeCols": ("exclude_cols", _optional(TypeConverters.toListString)),
    "nominalCols": ("nominal_cols", _optional(TypeConverters.toListString)),
    "percentage": ("percentage", TypeConverters.toFloat),
    "classes": ("classes", _optional(_labels)),
    "balance": ("balance", TypeConverters.toBoolean),
    "targetRatio": ("target_ratio", _optional(TypeConverters.toFloat)),
    "targetCounts": ("target_counts", _optional(_label_counts)),
    "k": ("k", TypeConverters.toInt),
    "seed": ("seed", _optional(TypeConverters.toInt)),
    "minorityLabel": ("minority_label", _optional(_label("minorityLabel"))),
    "neighbourMode": ("neighbour_mode", TypeConverters.toString),
    "bucketLength": ("bucket_length", _optional(TypeConverters.toFloat)),
    "numHashTables": ("num_hash_tables", _optional(TypeConverters.toInt)),
    "maxBucketSize": ("max_bucket_size", TypeConverters.toInt),
    "exactMaxRows": ("exact_max_rows", TypeConverters.toInt),
    "driverMaxRows": ("driver_max_rows", TypeConverters.toInt),
    "scaling": ("scaling", TypeConverters.toString),
    "syntheticCol": ("synthetic_col", _optional(TypeConverters.toString)),
}


def _param(name: str) -> Param[Any]:
    field, convert = _PARAMS[name]
    doc = SmoteSettings.model_fields[field].description or f"see SmoteSettings.{field}"
    return Param(Params._dummy(), name, doc, convert)


def _setting_value(name: str, value: Any) -> Any:
    if name == "targetCounts" and value is not None:
        return {label: n for label, n in value}
    return value


class OverwritingWriter(MLWriter):
    """An MLWriter whose ``overwrite()`` also works through Spark Connect.

    pyspark's own MLWriter clears the path through a JVM handle, which a Connect session
    does not have; `_remove_dfs_dir` asks the Connect server instead when there is one.
    """

    def _handleOverwrite(self, path: str) -> None:
        _remove_dfs_dir(path, self.sparkSession)


class _ParamsWriter(OverwritingWriter, DefaultParamsWriter):
    pass


class SMOTE(Transformer, DefaultParamsReadable["SMOTE"], DefaultParamsWritable):
    """SMOTE as a Spark ML Transformer: returns the input rows plus synthetic rows.

    Every Param mirrors a field of `SmoteSettings` (same default, same rule; the camelCase
    name of the snake_case field): ``labelCol``, ``inputCols``, ``excludeCols``,
    ``nominalCols``, ``percentage``, ``classes``, ``balance``, ``targetRatio``,
    ``targetCounts``, ``k``, ``seed``, ``minorityLabel``, ``neighbourMode`` (``auto``,
    ``exact``, ``lsh``), ``bucketLength``, ``numHashTables``, ``maxBucketSize``,
    ``exactMaxRows``, ``driverMaxRows``, ``scaling`` (``none``, ``standard``, ``minmax``) and
    ``syntheticCol``. Only the Params that are set are passed on, so the rule "one way to
    ask for rows" applies to them exactly as to `SmoteSettings`. Each Param has a setter
    and a getter (``setK``, ``getK``...); values are checked when they are set.

    Notes
    -----
    Use it on training data only: it adds rows. In a pipeline that is also used to score,
    wrap the estimator in `smote_spark.Oversampled`, which resamples while fitting and
    passes rows through when transforming.

    ``targetCounts`` may be given as a dict; it is kept (and saved) as a list of
    ``[label, count]`` pairs so that labels keep their type through save and load.

    References
    ----------
    N. V. Chawla et al., "SMOTE: Synthetic Minority Over-sampling Technique", JAIR 16, 2002.

    Examples
    --------
    >>> SMOTE(labelCol="Class", percentage=200, k=5, seed=42).transform(df)  # doctest: +SKIP
    """

    labelCol = _param("labelCol")
    inputCols = _param("inputCols")
    excludeCols = _param("excludeCols")
    nominalCols = _param("nominalCols")
    percentage = _param("percentage")
    classes = _param("classes")
    balance = _param("balance")
    targetRatio = _param("targetRatio")
    targetCounts = _param("targetCounts")
    k = _param("k")
    seed = _param("seed")
    minorityLabel = _param("minorityLabel")
    neighbourMode = _param("neighbourMode")
    bucketLength = _param("bucketLength")
    numHashTables = _param("numHashTables")
    maxBucketSize = _param("maxBucketSize")
    exactMaxRows = _param("exactMaxRows")
    driverMaxRows = _param("driverMaxRows")
    scaling = _param("scaling")
    syntheticCol = _param("syntheticCol")

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
            raise InvalidParameterError(
                f"SMOTE has no Param {unknown}; its Params are {sorted(_PARAMS)}."
            )
        given = self._input_kwargs
        before = {name: self._paramMap.get(getattr(self, name)) for name in given}
        try:
            self._set(**given)
            self.settings()  # the value rules, now rather than at transform time
        except (TypeError, ValueError) as exc:
            # Leave the stage as it was, valid.
            for name, value in before.items():
                if value is None:
                    self.clear(getattr(self, name))
                else:
                    self._set(**{name: value})
            if isinstance(exc, InvalidParameterError):
                raise
            raise InvalidParameterError(
                f"SMOTE: a Param value has the wrong type ({exc}); see help(SMOTE)."
            ) from None
        return self

    def settings(self) -> SmoteSettings:
        """The Params that are set, as validated `SmoteSettings` (raises InvalidParameterError).

        Params left unset take SmoteSettings' defaults, which are also their Param defaults.
        """
        values = {
            field: _setting_value(name, self.getOrDefault(name))
            for name, (field, _) in _PARAMS.items()
            if self.isSet(name)
        }
        return SmoteSettings.build(**values)

    def write(self) -> MLWriter:
        """Saves the Params as JSON metadata; ``overwrite()`` works on Spark Connect too."""
        return _ParamsWriter(self)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        return oversample(dataset, self.settings()).dataframe


def _add_accessors(cls: type) -> None:
    """``setK(3)``/``getK()`` and so on for every Param, as Spark ML stages have."""
    for name in _PARAMS:
        suffix = name[0].upper() + name[1:]

        def setter(self: SMOTE, value: Any, _name: str = name) -> SMOTE:
            return self.setParams(**{_name: value})

        def getter(self: SMOTE, _name: str = name) -> Any:
            return self.getOrDefault(_name)

        setter.__doc__ = f"Set ``{name}`` (see `SmoteSettings`); returns the stage."
        getter.__doc__ = f"The value of ``{name}``, set or default."
        setattr(cls, f"set{suffix}", setter)
        setattr(cls, f"get{suffix}", getter)


_add_accessors(SMOTE)
