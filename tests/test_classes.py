"""Several classes, every way to ask for rows, feature selection and scaling."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from smote_spark import (
    InvalidColumnError,
    InvalidParameterError,
    minority_neighbours,
    oversample,
)
from smote_spark.config import JobError, load_config
from smote_spark.settings import SmoteSettings
from smote_spark.targets import plan_classes

COUNTS = {"a": 5, "b": 8, "c": 20}


@pytest.fixture(scope="module")
def three(spark: SparkSession) -> DataFrame:
    """Classes a (5 rows), b (8) and c (20); an identifier and a non-feature column."""
    rng = np.random.default_rng(1)
    labels = [label for label, n in COUNTS.items() for _ in range(n)]
    frame = pd.DataFrame(
        {
            "id": [f"id{n}" for n in range(len(labels))],
            "x": rng.normal(size=len(labels)),
            "w": rng.normal(size=len(labels)),
            "y": labels,
        }
    )
    return spark.createDataFrame(frame).cache()


def counts_after(df: DataFrame, **params) -> dict[str, int]:
    result = oversample(df, label_col="y", k=3, seed=1, exclude_cols=["id"], **params)
    made = {row["y"]: row["count"] for row in result.dataframe.groupBy("y").count().collect()}
    assert made == result.report["counts_after"]
    return made


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # The minority class a: round(5 * 150 / 100) = round(7.5) = 8 new rows.
        ({"percentage": 150}, {"a": 13, "b": 8, "c": 20}),
        ({"percentage": 50, "classes": ["a", "b"]}, {"a": 8, "b": 12, "c": 20}),
        ({"balance": True}, {"a": 20, "b": 20, "c": 20}),
        # round(0.55 * 20) = 11 rows for the minority class, then for a and b.
        ({"target_ratio": 0.55}, {"a": 11, "b": 8, "c": 20}),
        ({"target_ratio": 0.55, "classes": ["a", "b"]}, {"a": 11, "b": 11, "c": 20}),
        ({"target_counts": {"a": 9, "c": 25}}, {"a": 9, "b": 8, "c": 25}),
        ({"minority_label": "b", "percentage": 100}, {"a": 5, "b": 16, "c": 20}),
    ],
)
def test_ways_to_ask_give_exact_counts(three, params, expected):
    assert counts_after(three, **params) == expected


@pytest.mark.parametrize(
    ("rows", "percentage", "added"),
    # Halves go up; truncation would give 2, 1 and 0, round-half-even 2, 2 and 0.
    [(5, 50, 3), (5, 30, 2), (1, 50, 1), (3, 10, 0), (7, 64.3, 5)],
)
def test_targets_round_never_truncate(rows, percentage, added):
    settings = SmoteSettings.build(percentage=percentage, classes=["x"])
    (plan,) = plan_classes({"x": rows, "z": 100}, settings)

    assert plan.synthetic_rows == added


def test_target_ratio_rounds_half_up():
    # 0.25 * 10 = 2.5 -> 3 rows in all, 1 new (truncation would make 2 rows, 0 new).
    (plan,) = plan_classes({0: 10, 1: 2}, SmoteSettings.build(target_ratio=0.25))

    assert (plan.minority_label, plan.synthetic_rows) == (1, 1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"target_counts": {"a": 3}},
            r"target_counts: a target is below .*class 'a' has 5 rows, target 3",
        ),
        (
            {"target_ratio": 0.2},
            r"target_ratio: a target is below .*class 'a' has 5 rows, target 4",
        ),
        ({"target_counts": {"q": 30}}, r"target_counts: no row has 'y' equal to 'q'"),
        ({"classes": ["a", "zz"]}, r"classes: no row has 'y' equal to 'zz'"),
        ({"balance": True, "classes": ["a"]}, r"classes cannot be combined with balance"),
        ({"balance": True, "percentage": 200}, r"give one way to ask for rows"),
    ],
)
def test_impossible_targets_are_refused(three, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        oversample(three, label_col="y", k=3, seed=1, exclude_cols=["id"], **params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        # Both name the class to oversample; neither is taken over the other.
        ({"classes": ["a"], "minority_label": "b"}, r"give classes or minority_label, not both"),
        (
            {"target_counts": {"a": 9, "b": -1}},
            r"target_counts: counts must be >= 0; found \{'b': -1\}",
        ),
    ],
)
def test_contradictory_or_negative_requests_are_refused(three, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        oversample(three, label_col="y", k=3, seed=1, exclude_cols=["id"], **params)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--classes", "1", "--minority-label", "2"], r"smote: give classes or minority_label"),
        (["--target-counts", "1=500,2=-5"], r"smote.target_counts: counts must be >= 0"),
    ],
)
def test_the_job_refuses_the_same_requests_before_spark_starts(flags, message):
    with pytest.raises(JobError, match=message):
        load_config(["--input", "in.csv", "--output", "out", "--label", "y", *flags])


@pytest.mark.parametrize("name", ["w", "id", "y"])
def test_synthetic_col_must_not_name_an_input_column(three, name):
    # A feature, an excluded column and the label: each would be overwritten by the flag.
    with pytest.raises(
        InvalidColumnError, match=rf"synthetic_col: column '{name}' is already in the input"
    ):
        oversample(three, label_col="y", k=3, seed=1, exclude_cols=["id"], synthetic_col=name)


@pytest.mark.parametrize(
    ("params", "stray"),
    [
        # Excluded, left out of input_cols, and the label: none of them is a feature.
        ({"exclude_cols": ["id"], "nominal_cols": ["id"]}, "'id'"),
        ({"input_cols": ["x"], "nominal_cols": ["w"]}, "'w'"),
        ({"exclude_cols": ["id"], "nominal_cols": ["y"]}, "'y'"),
    ],
)
def test_nominal_cols_must_name_features(three, params, stray):
    with pytest.raises(InvalidColumnError, match=rf"nominal_cols: \[{stray}\] are not features"):
        oversample(three, label_col="y", k=3, seed=1, **params)


def test_a_tie_for_the_smallest_class_is_resolved_in_label_order_and_logged(spark, caplog):
    # Labels 10 and 2 both have 4 rows: numbers sort as numbers, so 2 is chosen.
    frame = pd.DataFrame({"x": np.arange(14.0), "y": [10] * 4 + [2] * 4 + [0] * 6})
    df = spark.createDataFrame(frame)
    with caplog.at_level(logging.WARNING, logger="smote_spark.targets"):
        result = oversample(df, label_col="y", k=2, seed=1)

    assert result.report["counts_after"] == {"10": 4, "2": 8, "0": 6}
    assert "classes [2, 10] tie for the fewest rows (4); oversampling 2" in caplog.text


def test_plans_are_in_label_order_numbers_by_value():
    settings = SmoteSettings.build(balance=True)
    plans = plan_classes({10: 3, 2: 3, 9: 12, 100: 1}, settings)

    assert [p.minority_label for p in plans] == [2, 9, 10, 100]


def test_exclude_and_include_lists_leave_other_columns_null(three):
    excluded = oversample(
        three, label_col="y", exclude_cols=["id"], k=3, seed=2, synthetic_col="new"
    )
    included = oversample(three, label_col="y", input_cols=["x"], k=3, seed=2, synthetic_col="new")
    by_exclusion = excluded.dataframe.filter("new").collect()
    by_inclusion = included.dataframe.filter("new").collect()
    a = three.filter("y = 'a'").toPandas()

    assert len(by_exclusion) == len(by_inclusion) == 5
    assert all(r["id"] is None and r["x"] is not None and r["w"] is not None for r in by_exclusion)
    assert all(r["id"] is None and r["w"] is None for r in by_inclusion)
    assert all(a["x"].min() <= r["x"] <= a["x"].max() for r in by_inclusion)
    assert excluded.dataframe.drop("new").schema == three.schema


# ----------------------------------------------------------------------------- scaling

# Class rows by hand: p0 = (0, 0), p1 = (3, 0), p2 = (0, 1), p3 = (100, 0.5). Unscaled, the
# nearest row to p0 is p2 (distance 1; p1 is 3 away). Min-max scaled (x / 100, y / 1) p1 is
# 0.03 away and p2 still 1; with standard scaling (x / 42.89, y / 0.4146) p1 is 0.07 away
# and p2 2.41. In both scaled spaces p1 -> p0, p2 -> p0 and p3 -> p1.
SCALED = pd.DataFrame({"x": [0.0, 3.0, 0.0, 100.0], "y": [0.0, 0.0, 1.0, 0.5]})


def scaling_frame(spark: SparkSession) -> DataFrame:
    majority = pd.DataFrame({"x": [50.0] * 5, "y": [0.5] * 5, "label": 0})
    return spark.createDataFrame(pd.concat([SCALED.assign(label=1), majority]))


@pytest.mark.parametrize(
    ("scaling", "nearest", "distance"),
    [("none", (0.0, 1.0), 1.0), ("minmax", (3.0, 0.0), 0.03), ("standard", (3.0, 0.0), None)],
)
def test_scaling_changes_the_nearest_row(spark, scaling, nearest, distance):
    df = scaling_frame(spark)
    table = minority_neighbours(df, label_col="label", k=1, seed=1, scaling=scaling).toPandas()
    by_key = {key: (x, y) for key, x, y in zip(table["key"], table["x"], table["y"], strict=True)}
    p0 = table[(table["x"] == 0.0) & (table["y"] == 0.0)].iloc[0]

    assert by_key[p0["neighbours"][0]] == nearest
    if distance is None:
        # Standard: x / std(x) with std over the class only, 3 / 42.7...
        distance = 3.0 / SCALED["x"].std(ddof=0)
    assert p0["distances"][0] == pytest.approx(distance, rel=1e-12)


@pytest.mark.parametrize("scaling", ["minmax", "standard"])
def test_scaled_runs_make_rows_in_original_units(spark, scaling):
    df = scaling_frame(spark)
    out = oversample(
        df, label_col="label", k=1, percentage=500, seed=3, scaling=scaling, synthetic_col="s"
    ).dataframe
    new = out.filter("s").toPandas()[["x", "y"]].to_numpy()
    # The scaled nearest pairs, by hand, with the rows in their original units.
    pairs = [((0.0, 0.0), (3.0, 0.0)), ((0.0, 1.0), (0.0, 0.0)), ((100.0, 0.5), (3.0, 0.0))]

    assert len(new) == 20
    for point in new:
        assert any(_between(point, np.array(a), np.array(b)) for a, b in pairs)
    # Original units: the children of p3 lie far beyond the scaled range [0, 1].
    assert new[:, 0].max() > 3.0


def _between(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    span = b - a
    gap = float((point - a) @ span / (span @ span))
    return 0.0 <= gap <= 1.0 and bool(np.allclose(a + gap * span, point, atol=1e-12))


# ------------------------------------------------------------- statistics of each class

# Classes a and b, oversampled in one run, differ in everything SMOTE measures: a's numbers
# lie in [0, 1] and [0, 5], b's in [1000, 5000] and [100, 900]; their colours and codes are
# disjoint (each shares some with the majority c), and a's flag is constant.
OWN_VALUES = {
    "a": {"colour": ["red", "green"], "code": [1, 2, 3], "flag": [True]},
    "b": {"colour": ["blue", "black", "white"], "code": [7, 8], "flag": [True, False]},
    "c": {"colour": ["red", "blue", "pink"], "code": [1, 7, 9], "flag": [False]},
}
RANGES = {"a": ((0.0, 1.0), (0, 5)), "b": ((1000.0, 5000.0), (100, 900)), "c": ((-50, 50), (0, 9))}
SIZES = {"a": 12, "b": 16, "c": 40}
WEIGHT_LOG = re.compile(
    r"class '(\w)': neighbour mode \w+, (\d+) distance columns "
    r"\((\d+) nominal values, weight ([-+.\de]+)\)"
)


def per_class_frame(spark: SparkSession) -> tuple[DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(5)
    parts = []
    for label, size in SIZES.items():
        (x_low, x_high), (n_low, n_high) = RANGES[label]
        own = OWN_VALUES[label]
        part = pd.DataFrame(
            {
                "x": rng.uniform(x_low, x_high, size),
                "n": rng.integers(n_low, n_high + 1, size).astype(np.int32),
                # The values cycle, so every one of them occurs in the class.
                "colour": [own["colour"][i % len(own["colour"])] for i in range(size)],
                "code": np.array(
                    [own["code"][i % len(own["code"])] for i in range(size)], np.int32
                ),
                "flag": [own["flag"][i % len(own["flag"])] for i in range(size)],
                "y": label,
            }
        )
        parts.append(part.sample(frac=1.0, random_state=int(rng.integers(100))))
    frame = pd.concat(parts, ignore_index=True)
    return spark.createDataFrame(frame), frame


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_each_class_oversampled_in_one_run_uses_its_own_statistics(spark, caplog, mode):
    df, frame = per_class_frame(spark)
    with caplog.at_level(logging.INFO, logger="smote_spark.resampling"):
        result = oversample(
            df,
            label_col="y",
            classes=["a", "b"],
            percentage=200,
            nominal_cols=["code"],
            k=3,
            seed=7,
            neighbour_mode=mode,
            synthetic_col="s",
        )
        new = result.dataframe.filter("s").toPandas()

    assert result.report["counts_after"] == {"a": 36, "b": 48, "c": 40}
    assert {c: f["neighbour_mode"] for c, f in result.report["classes"].items()} == {
        "a": mode,
        "b": mode,
    }
    assert new.groupby("y").size().to_dict() == {"a": 24, "b": 32}
    for label in ("a", "b"):
        made, own = new[new["y"] == label], frame[frame["y"] == label]
        # Nominal values: only the class's own, though the other classes have more.
        for name in ("colour", "code", "flag"):
            assert set(made[name]) <= set(own[name]), (label, name)
        # Numbers: within the class's own range, far from the other classes'.
        for name in ("x", "n"):
            assert own[name].min() <= made[name].min() <= made[name].max() <= own[name].max()
    # a's flag is constant in a, so every synthetic row of a keeps it.
    assert set(new.loc[new["y"] == "a", "flag"]) == {True}

    # The SMOTE-NC weight of each class: its own median numeric deviation / sqrt(2), and one
    # distance column per value of its own (2 numeric + colour, code and flag values).
    logged = {m[1]: (int(m[2]), int(m[3]), float(m[4])) for m in WEIGHT_LOG.finditer(caplog.text)}
    for label in ("a", "b"):
        own = frame[frame["y"] == label]
        deviations = [own[name].astype(float).std(ddof=0) for name in ("x", "n")]
        values = sum(len(OWN_VALUES[label][name]) for name in ("colour", "code", "flag"))
        width, nominal, weight = logged[label]
        assert (width, nominal) == (2 + values, values)
        assert weight == pytest.approx(float(np.median(deviations)) / math.sqrt(2), rel=1e-3)
    assert logged["b"][2] > 100 * logged["a"][2]
