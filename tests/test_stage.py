"""The Spark ML side: SMOTE's Params and their save/load, and training-only oversampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import DataFrame, SparkSession

from smote_spark import (
    SMOTE,
    InvalidParameterError,
    Oversampled,
    OversampledModel,
    SmoteSettings,
    oversample,
)
from smote_spark.stage import _PARAMS

FEATURES = ["x0", "x1", "x2"]


@pytest.fixture(scope="module")
def frame(spark: SparkSession) -> DataFrame:
    """30 rows of class 1 and 90 of class 0, with an id that is not a feature."""
    rng = np.random.default_rng(5)
    points = np.vstack([rng.normal(0, 1, (30, 3)), rng.normal(2, 1, (90, 3))])
    table = pd.DataFrame(points, columns=FEATURES)
    table["id"] = np.arange(120)
    table["y"] = [1] * 30 + [0] * 90
    return spark.createDataFrame(table).cache()


def rows(df: DataFrame) -> list[tuple]:
    return sorted(tuple(row) for row in df.collect())


# ------------------------------------------------------------------------------ Params


def test_every_setting_has_a_param_whose_default_is_the_settings_default():
    stage = SMOTE()
    defaults = SmoteSettings()

    assert sorted(field for field, _ in _PARAMS.values()) == sorted(SmoteSettings.model_fields)
    assert sorted(p.name for p in stage.params) == sorted(_PARAMS)
    for name, (field, _) in _PARAMS.items():
        assert stage.getOrDefault(name) == getattr(defaults, field), name
        assert not stage.isSet(name)
    assert stage.settings() == defaults


# Between them these set every Param; each is a valid combination on its own.
ROUND_TRIPS = [
    dict(
        labelCol="y",
        inputCols=["x0", "x1", "n"],
        nominalCols=["n"],
        percentage=250.0,
        classes=[1, 2],
        k=3,
        seed=9,
        neighbourMode="lsh",
        bucketLength=0.5,
        numHashTables=3,
        maxBucketSize=50,
        exactMaxRows=10,
        driverMaxRows=5,
        scaling="minmax",
        syntheticCol="is_synthetic",
    ),
    dict(labelCol="y", excludeCols=["id"], targetCounts={1: 80, 2: 70}, scaling="standard"),
    dict(labelCol="flag", balance=True, minorityLabel=True),
    dict(labelCol="grade", targetRatio=0.75, minorityLabel="b", seed=0),
    dict(labelCol="y", minorityLabel=1.5, percentage=0.0),
]


def test_round_trips_cover_every_param():
    assert set().union(*ROUND_TRIPS) == set(_PARAMS)


@pytest.mark.parametrize("params", ROUND_TRIPS, ids=range(len(ROUND_TRIPS)))
def test_save_and_load_keep_every_param_value(spark, tmp_path, params):
    stage = SMOTE(**params)
    stage.save(str(tmp_path / "smote"))
    loaded = SMOTE.load(str(tmp_path / "smote"))

    assert loaded.uid == stage.uid
    for param in stage.params:
        assert loaded.isSet(param.name) == stage.isSet(param), param.name
        assert loaded.getOrDefault(param.name) == stage.getOrDefault(param), param.name
        # Labels keep their type (JSON would turn 1 into 1.0 or "1" if they did not).
        value = loaded.getOrDefault(param.name)
        assert repr(value) == repr(stage.getOrDefault(param)), param.name
    assert loaded.settings() == stage.settings()


def test_target_counts_keep_integer_labels_through_save_and_load(spark, tmp_path):
    stage = SMOTE(labelCol="y", targetCounts={1: 80, 2: 70})
    stage.write().overwrite().save(str(tmp_path / "smote"))

    settings = SMOTE.load(str(tmp_path / "smote")).settings()

    assert settings.target_counts == {1: 80, 2: 70}
    assert [type(label) for label in settings.target_counts] == [int, int]


def test_only_set_params_reach_the_rule_table():
    assert SMOTE(balance=True).settings().balance is True
    with pytest.raises(InvalidParameterError, match=r"give one way to ask for rows, not"):
        SMOTE(balance=True, percentage=200).settings()
    with pytest.raises(InvalidParameterError, match=r"^k: Input should be greater than or equal"):
        SMOTE(k=0).settings()


def test_param_errors_name_the_param():
    with pytest.raises(InvalidParameterError, match=r"SMOTE has no Param \['kk'\]"):
        SMOTE(kk=3)
    with pytest.raises(InvalidParameterError, match=r"^minorityLabel: a class label must be"):
        SMOTE(minorityLabel=[1])
    with pytest.raises(InvalidParameterError, match=r"^classes: must be a list of class labels"):
        SMOTE(classes="1")
    with pytest.raises(InvalidParameterError, match=r"^targetCounts: must map class labels"):
        SMOTE(targetCounts={1: 2.5})


def test_stage_with_the_newer_params_matches_the_function(frame):
    stage = SMOTE(labelCol="y", excludeCols=["id"], targetRatio=0.5, scaling="standard", seed=4)

    expected = oversample(
        frame, label_col="y", exclude_cols=["id"], target_ratio=0.5, scaling="standard", seed=4
    )

    assert rows(stage.transform(frame)) == rows(expected.dataframe)
    assert expected.report["counts_after"] == {"0": 90, "1": 45}


# ------------------------------------------------------------- training-only oversampling


def classifier() -> Pipeline:
    assembler = VectorAssembler(inputCols=FEATURES, outputCol="features")
    return Pipeline(stages=[assembler, LogisticRegression(labelCol="y", maxIter=20)])


def wrapped() -> Pipeline:
    smote = SMOTE(labelCol="y", inputCols=FEATURES, percentage=200, seed=3)
    return Pipeline(stages=[Oversampled(estimator=classifier(), smote=smote)])


@pytest.fixture(scope="module")
def fitted(frame: DataFrame) -> PipelineModel:
    return wrapped().fit(frame)


def test_inner_estimator_is_fitted_on_the_oversampled_rows(fitted):
    model = fitted.stages[0]
    assert isinstance(model, OversampledModel)

    logistic = model.model.stages[-1]

    # 120 rows in, 30 minority rows x 2 children = 60 synthetic rows.
    assert logistic.summary.predictions.count() == 180
    assert model.trainingReport["counts_after"] == {"0": 90, "1": 90}


def test_fitted_pipeline_scores_exactly_the_rows_it_is_given(fitted, frame):
    scored = fitted.transform(frame)
    some = fitted.transform(frame.filter("id % 7 = 0"))

    assert scored.count() == 120
    assert sorted(r.id for r in scored.select("id").collect()) == list(range(120))
    assert sorted(r.id for r in some.select("id").collect()) == list(range(0, 120, 7))
    assert "prediction" in scored.columns


def test_fitted_pipeline_saves_and_loads(fitted, frame, tmp_path):
    fitted.save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))

    inner = loaded.stages[0]
    assert isinstance(inner, OversampledModel)
    assert inner.trainingReport == fitted.stages[0].trainingReport
    assert inner.getSmote().settings() == fitted.stages[0].getSmote().settings()
    columns = ["id", "prediction", "probability"]
    assert rows(loaded.transform(frame).select(columns)) == rows(
        fitted.transform(frame).select(columns)
    )


def test_unfitted_pipeline_saves_loads_and_refits_the_same(fitted, frame, tmp_path):
    wrapped().save(str(tmp_path / "pipeline"))
    loaded = Pipeline.load(str(tmp_path / "pipeline"))

    stage = loaded.getStages()[0]
    assert isinstance(stage, Oversampled)
    assert stage.getSmote().settings() == wrapped().getStages()[0].getSmote().settings()
    refitted = loaded.fit(frame).transform(frame).select("id", "prediction")
    assert rows(refitted) == rows(fitted.transform(frame).select("id", "prediction"))


def test_oversampled_needs_an_estimator_and_a_smote_stage(frame):
    with pytest.raises(InvalidParameterError, match=r"^estimator: Oversampled needs the"):
        Oversampled(smote=SMOTE(labelCol="y")).fit(frame)
    with pytest.raises(InvalidParameterError, match=r"^smote: Oversampled needs the SMOTE"):
        Oversampled(estimator=classifier()).fit(frame)
    with pytest.raises(InvalidParameterError, match=r"^model: this OversampledModel holds"):
        OversampledModel().transform(frame)


def test_copy_does_not_share_the_inner_stages():
    stage = Oversampled(estimator=classifier(), smote=SMOTE(labelCol="y", k=2))
    copied = stage.copy()

    assert copied.getSmote() is not stage.getSmote()
    assert copied.getSmote().getOrDefault("k") == 2
    assert copied.getEstimator() is not stage.getEstimator()
