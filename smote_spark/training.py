"""Oversampling for training only: `Oversampled` fits an estimator on SMOTE's output.

A pipeline published for scoring must score exactly the rows it is given, so SMOTE cannot
be a plain stage of it (a Transformer runs when scoring too). `Oversampled` resamples in
`fit` and returns an `OversampledModel`, which is the inner model and nothing else.
"""

from __future__ import annotations

import os
from typing import Any

from pyspark import StorageLevel, keyword_only
from pyspark.ml import Estimator, Model
from pyspark.ml.param import Param, Params
from pyspark.ml.util import (
    DefaultParamsReader,
    DefaultParamsWriter,
    MLReadable,
    MLReader,
    MLWritable,
    MLWriter,
)
from pyspark.sql import DataFrame, SparkSession

from smote_spark.errors import InvalidParameterError
from smote_spark.resampling import oversample
from smote_spark.stage import SMOTE, OverwritingWriter


class _InnerStages(Params):
    """The two Params that `Oversampled` and its model share: what is fitted, and how."""

    estimator: Param[Any] = Param(
        Params._dummy(), "estimator", "the estimator fitted on the oversampled rows"
    )
    smote: Param[Any] = Param(Params._dummy(), "smote", "the SMOTE stage applied during fit")

    def getEstimator(self) -> Estimator:
        """The estimator fitted on the oversampled rows."""
        if not self.isSet(self.estimator):
            raise InvalidParameterError(
                "estimator: Oversampled needs the estimator to fit, e.g. "
                "Oversampled(estimator=LogisticRegression(), smote=SMOTE(...)); none was set."
            )
        return self.getOrDefault(self.estimator)

    def getSmote(self) -> SMOTE:
        """The SMOTE stage applied to the training rows."""
        if not self.isSet(self.smote):
            raise InvalidParameterError(
                "smote: Oversampled needs the SMOTE stage that says how to oversample, e.g. "
                "smote=SMOTE(labelCol='y', seed=1); none was set."
            )
        return self.getOrDefault(self.smote)

    def _inner_stages(self) -> dict[str, Any]:
        return {p.name: self.getOrDefault(p) for p in (self.estimator, self.smote) if self.isSet(p)}


class Oversampled(
    Estimator["OversampledModel"], _InnerStages, MLReadable["Oversampled"], MLWritable
):
    """An estimator (a classifier or a whole Pipeline) fitted on SMOTE-oversampled data.

    ``fit`` runs ``smote`` on the training rows, fits ``estimator`` on the result and
    returns an `OversampledModel` that wraps the fitted inner model: transforming with it
    scores exactly the rows it is given, with no synthetic rows. It works on its own or
    as a stage of a `pyspark.ml.Pipeline`, and saves and loads like one.

    Parameters
    ----------
    estimator : Estimator
        What to fit on the oversampled rows; anything with ``fit`` (a Pipeline too).
    smote : SMOTE
        The oversampling; its Params say which classes and how many rows. Give it
        ``inputCols`` (or ``excludeCols``) when the training rows carry columns that are
        not features, such as an id.

    Notes
    -----
    The oversampled rows are cached while ``estimator`` fits (iterative learners read
    them many times) and released afterwards. Synthetic rows have nulls in every column
    that is not a feature or the label, so the inner estimator should only read features
    and the label. ``OversampledModel.trainingReport`` holds SMOTE's run report.

    Examples
    --------
    >>> lr = Pipeline(stages=[VectorAssembler(inputCols=cols, outputCol="features"),
    ...                       LogisticRegression(labelCol="Class")])  # doctest: +SKIP
    >>> model = Oversampled(estimator=lr, smote=SMOTE(labelCol="Class", seed=1)).fit(train)
    >>> model.transform(test)  # scores test's rows only  # doctest: +SKIP
    """

    _input_kwargs: dict[str, Any]

    @keyword_only
    def __init__(self, *, estimator: Estimator | None = None, smote: SMOTE | None = None):
        super().__init__()
        self._set(**self._input_kwargs)

    @keyword_only
    def setParams(
        self, *, estimator: Estimator | None = None, smote: SMOTE | None = None
    ) -> Oversampled:
        """Set ``estimator`` and/or ``smote``."""
        return self._set(**self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> OversampledModel:
        estimator, smote = self.getEstimator(), self.getSmote()
        result = oversample(dataset, smote.settings())
        training = result.dataframe.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            inner = estimator.fit(training)
        finally:
            training.unpersist()
            result.release()
        model = OversampledModel(inner, result.report)
        return self._copyValues(model)

    def copy(self, extra: dict[Param[Any], Any] | None = None) -> Oversampled:
        """A copy with copies of the inner stages (``extra`` applies to this wrapper)."""
        copied = super().copy(extra)
        copied._set(**{name: stage.copy() for name, stage in self._inner_stages().items()})
        return copied

    def write(self) -> MLWriter:
        """Saves ``smote`` and ``estimator`` under the path, each in its own format."""
        return _NestedWriter(self, {"smote": self.getSmote(), "estimator": self.getEstimator()})

    @classmethod
    def read(cls) -> MLReader[Oversampled]:
        """Reads what `write` saved."""
        return _NestedReader(cls)


class OversampledModel(Model, _InnerStages, MLReadable["OversampledModel"], MLWritable):
    """The model fitted by `Oversampled`: the inner model, scoring the rows it is given.

    Parameters
    ----------
    model : Model
        The fitted inner model (e.g. a PipelineModel).
    trainingReport : dict, optional
        SMOTE's run report for the training data (counts before and after, seed...).
    """

    def __init__(self, model: Model | None = None, trainingReport: dict[str, Any] | None = None):
        super().__init__()
        self.model = model
        self.trainingReport = dict(trainingReport or {})

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if self.model is None:
            raise InvalidParameterError(
                "model: this OversampledModel holds no fitted model; get one from "
                "Oversampled.fit or OversampledModel.load."
            )
        return self.model.transform(dataset)

    def copy(self, extra: dict[Param[Any], Any] | None = None) -> OversampledModel:
        """A copy with a copy of the inner model."""
        copied = super().copy(extra)
        copied.model = None if self.model is None else self.model.copy()
        copied.trainingReport = dict(self.trainingReport)
        return copied

    def write(self) -> MLWriter:
        """Saves the inner model (and the training report) under the path."""
        stages = {"model": self.model, **self._inner_stages()}
        return _NestedWriter(self, stages, {"trainingReport": self.trainingReport})

    @classmethod
    def read(cls) -> MLReader[OversampledModel]:
        """Reads what `write` saved."""
        return _NestedReader(cls)


class _NestedWriter(OverwritingWriter):
    """Metadata of the wrapper, then each nested stage in its own folder (like Pipeline)."""

    def __init__(
        self, instance: Params, stages: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.instance, self.stages, self.extra = instance, stages, extra or {}

    def saveImpl(self, path: str) -> None:
        spark = self.sparkSession
        params = {"stages": sorted(self.stages), "language": "Python"}
        DefaultParamsWriter.saveMetadata(self.instance, path, spark, self.extra, params)
        for name, stage in self.stages.items():
            stage.write().session(spark).save(os.path.join(path, name))


class _NestedReader(MLReader[Any]):
    def __init__(self, cls: type[Oversampled] | type[OversampledModel]) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> Any:
        spark: SparkSession = self.sparkSession
        metadata = DefaultParamsReader.loadMetadata(path, spark)
        stages: dict[str, Any] = {
            name: DefaultParamsReader.loadParamsInstance(os.path.join(path, name), spark)
            for name in metadata["paramMap"]["stages"]
        }
        model = stages.pop("model", None)
        instance: Any = (
            OversampledModel(model, metadata.get("trainingReport"))
            if self.cls is OversampledModel
            else Oversampled()
        )
        instance._resetUid(metadata["uid"])
        instance._set(**stages)
        return instance
