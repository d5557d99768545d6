"""The library's contract: counts, unchanged input rows, segments, seeds, types, errors."""

from __future__ import annotations

import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from smote_spark import (
    SMOTE,
    ColumnTypeError,
    InvalidColumnError,
    InvalidDataError,
    InvalidParameterError,
    SmoteSettings,
    minority_neighbours,
    oversample,
)

BLOOD = Path(__file__).resolve().parents[1] / "data" / "blood_transfusion.csv"
BLOOD_FEATURES = ["Recency", "Frequency", "Monetary", "Time"]


@pytest.fixture(scope="module")
def blood(spark: SparkSession) -> DataFrame:
    return spark.read.csv(str(BLOOD), header=True, inferSchema=True).cache()


def rows(df: DataFrame) -> list[tuple]:
    """All rows as sorted tuples: a multiset that ignores order and partitioning."""
    return sorted(tuple(row) for row in df.collect())


def gaussian_frame(
    spark: SparkSession, minority: int = 60, majority: int = 200, d: int = 3, seed: int = 0
) -> DataFrame:
    rng = np.random.default_rng(seed)
    points = np.vstack([rng.normal(0, 1, (minority, d)), rng.normal(3, 1, (majority, d))])
    frame = pd.DataFrame(points, columns=[f"x{i}" for i in range(d)])
    frame["y"] = [1] * minority + [0] * majority
    return spark.createDataFrame(frame)


def knn_brute_force(points: np.ndarray, k: int) -> np.ndarray:
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


def on_segments(new: np.ndarray, points: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """For each new point: does it lie on the segment of one of ``pairs`` (gap in [0, 1])?"""
    found = np.zeros(len(new), bool)
    for i, j in pairs:
        a, b = points[i], points[j]
        span = b - a
        length = span @ span
        gap = np.zeros(len(new)) if length == 0 else (new - a) @ span / length
        closest = a + gap[:, None] * span
        ok = (np.abs(new - closest).max(axis=1) < 1e-9) & (gap >= -1e-12) & (gap <= 1 + 1e-12)
        found |= ok
    return found


# ----------------------------------------------------------------------------- counts


@pytest.mark.parametrize(("percentage", "class_1"), [(0, 178), (100, 356), (200, 534), (300, 712)])
def test_worked_example_counts_and_input_rows_unchanged(blood, percentage, class_1):
    result = oversample(
        blood, label_col="Class", percentage=percentage, seed=11, synthetic_col="synthetic"
    )
    out = result.dataframe
    counts = {r["Class"]: r["count"] for r in out.groupBy("Class").count().collect()}

    assert counts == {0: 570, 1: class_1}
    assert rows(out.filter(~F.col("synthetic")).drop("synthetic")) == rows(blood)
    assert out.filter("synthetic AND Class <> 1").count() == 0
    assert result.report["counts_after"] == {"0": 570, "1": class_1}


def test_percentage_150_adds_exactly_267_rows(blood):
    result = oversample(blood, label_col="Class", percentage=150, seed=3)

    assert result.dataframe.count() == 748 + 267
    assert result.report["synthetic_rows"] == 267


def test_lsh_mode_gives_the_same_counts(blood):
    out = oversample(
        blood, label_col="Class", percentage=150, seed=3, neighbour_mode="lsh"
    ).dataframe

    assert out.filter("Class = 1").count() == 178 + 267
    assert out.filter("Class = 0").count() == 570


# --------------------------------------------------------------------------- geometry


def test_exact_mode_rows_lie_on_segments_to_true_neighbours(spark):
    df = gaussian_frame(spark)
    k = 5
    out = oversample(
        df,
        label_col="y",
        k=k,
        percentage=300,
        seed=5,
        neighbour_mode="exact",
        synthetic_col="s",
    ).dataframe
    minority = df.filter("y = 1").toPandas()[["x0", "x1", "x2"]].to_numpy()
    new = out.filter("s").toPandas()[["x0", "x1", "x2"]].to_numpy()
    neighbours = knn_brute_force(minority, k)
    true_pairs = [(i, int(j)) for i in range(len(minority)) for j in neighbours[i]]
    farthest = knn_brute_force(minority, len(minority) - 1)[:, -1]
    wrong = (minority + minority[farthest]) / 2

    assert len(new) == 180
    assert on_segments(new, minority, true_pairs).all()
    # The check can fail: midpoints to each row's farthest row are refused.
    assert not on_segments(wrong, minority, true_pairs).any()


def test_lsh_mode_rows_lie_on_segments_between_minority_rows(spark):
    df = gaussian_frame(spark, minority=80)
    out = oversample(
        df, label_col="y", percentage=100, seed=5, neighbour_mode="lsh", synthetic_col="s"
    ).dataframe
    minority = df.filter("y = 1").toPandas()[["x0", "x1", "x2"]].to_numpy()
    new = out.filter("s").toPandas()[["x0", "x1", "x2"]].to_numpy()
    pairs = [(i, j) for i in range(len(minority)) for j in range(len(minority)) if i != j]

    assert len(new) == 80
    assert on_segments(new, minority, pairs).all()


def test_identical_minority_rows_give_that_point(spark):
    frame = pd.DataFrame({"a": [1.5] * 8 + list(range(20)), "b": [-2.0] * 8 + [0.0] * 20})
    frame["y"] = ["rare"] * 8 + ["common"] * 20
    for mode in ("exact", "lsh"):
        out = oversample(
            spark.createDataFrame(frame),
            label_col="y",
            seed=1,
            neighbour_mode=mode,
            synthetic_col="s",
        ).dataframe
        new = out.filter("s").select("a", "b").distinct().collect()
        assert [tuple(r) for r in new] == [(1.5, -2.0)]


# -------------------------------------------------------------------------------- seed


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_same_seed_same_rows_whatever_the_partitioning(blood, mode):
    def run(df: DataFrame, seed: int = 42) -> list[tuple]:
        result = oversample(df, label_col="Class", percentage=150, seed=seed, neighbour_mode=mode)
        return rows(result.dataframe)

    reference = run(blood.coalesce(1))

    assert run(blood.repartition(4)) == reference
    assert run(blood.orderBy(F.rand(7)).repartition(3)) == reference
    assert run(blood, seed=43) != reference


def test_without_a_seed_one_is_drawn_and_reported(blood):
    first = oversample(blood, label_col="Class", percentage=50)
    seed = first.report["seed"]
    again = oversample(blood, label_col="Class", percentage=50, seed=seed)

    assert isinstance(seed, int)
    assert rows(first.dataframe) == rows(again.dataframe)


# ------------------------------------------------------------------------------- types


def test_integer_columns_stay_integer_and_schema_is_kept(spark):
    schema = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("b", T.ByteType()),
            T.StructField("s", T.ShortType()),
            T.StructField("i", T.IntegerType()),
            T.StructField("l", T.LongType()),
            T.StructField("f", T.FloatType()),
            T.StructField("dec", T.DecimalType(10, 3)),
            T.StructField("label", T.StringType()),
        ]
    )
    rng = np.random.default_rng(3)
    data = [
        (
            f"row{n}",
            int(rng.integers(-100, 100)),
            int(rng.integers(-1000, 1000)),
            int(rng.integers(0, 10**6)),
            int(rng.integers(0, 10**12)),
            float(rng.normal()),
            Decimal(f"{rng.uniform(0, 1000):.3f}"),
            "yes" if n < 12 else "no",
        )
        for n in range(40)
    ]
    df = spark.createDataFrame(data, schema)
    out = oversample(
        df,
        label_col="label",
        input_cols=["b", "s", "i", "l", "f", "dec"],
        seed=2,
        synthetic_col="new",
    ).dataframe
    new = out.filter("new").collect()

    assert out.drop("new").schema == df.schema
    assert len(new) == 12
    assert all(r["id"] is None and r["label"] == "yes" for r in new)
    assert all(isinstance(r["i"], int) and isinstance(r["dec"], Decimal) for r in new)
    minority = df.filter("label = 'yes'").toPandas()
    for name in ["b", "s", "i", "l"]:
        values = [r[name] for r in new]
        assert min(values) >= minority[name].min() and max(values) <= minority[name].max()


def test_non_feature_columns_are_null_in_synthetic_rows(blood):
    with_id = blood.withColumn("donor", F.monotonically_increasing_id())
    out = oversample(
        with_id, label_col="Class", input_cols=BLOOD_FEATURES, seed=1, synthetic_col="s"
    ).dataframe

    assert out.filter("s AND donor IS NOT NULL").count() == 0
    assert out.filter("s").count() == 178


# ------------------------------------------------------------------------------ errors


def test_missing_label_column(blood):
    with pytest.raises(InvalidColumnError, match=r"label_col: column 'target' is not in"):
        oversample(blood, label_col="target", seed=1)


def test_single_class(blood):
    with pytest.raises(InvalidDataError, match=r"at least two classes.*only class 1 \(178 rows\)"):
        oversample(blood.filter("Class = 1"), label_col="Class", seed=1)


def test_minority_rows_not_above_k(spark):
    df = gaussian_frame(spark, minority=5, majority=20)
    with pytest.raises(InvalidDataError, match=r"k: class 1 has 5 rows, but k=5"):
        oversample(df, label_col="y", k=5, seed=1)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_bad_value_in_a_minority_feature(spark, bad):
    frame = pd.DataFrame({"a": np.arange(30, dtype=float), "b": np.ones(30)})
    frame["y"] = [1] * 10 + [0] * 20
    frame["b"] = frame["b"].astype(object)
    frame.loc[3, "b"] = bad
    df = spark.createDataFrame(frame, "a double, b double, y long")
    for mode in ("exact", "lsh"):
        with pytest.raises(InvalidDataError, match=r"null, NaN or infinite.*'b': 1 rows"):
            oversample(df, label_col="y", seed=1, neighbour_mode=mode)


def test_bad_value_in_a_majority_row_passes_through(spark):
    frame = pd.DataFrame({"a": np.arange(30, dtype=float), "y": [1] * 10 + [0] * 20})
    frame.loc[25, "a"] = np.nan
    out = oversample(spark.createDataFrame(frame), label_col="y", seed=1).dataframe

    assert out.count() == 40


def test_feature_of_an_unusable_type(blood):
    with_list = blood.withColumn("tags", F.array(F.lit("x")))
    with pytest.raises(
        ColumnTypeError, match=r"cannot be features: 'tags' \(array<string>\).*exclude_cols"
    ):
        oversample(with_list, label_col="Class", seed=1)
    out = oversample(with_list, label_col="Class", seed=1, exclude_cols=["tags"]).dataframe
    assert out.filter(F.col("tags").isNull()).count() == 178


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"percentage": -1}, r"percentage: .*greater than or equal to 0 \(got -1\)"),
        ({"percentage": float("nan")}, r"percentage: .*\(got nan\)"),
        ({"k": 0}, r"k: .*greater than or equal to 1"),
        ({"neighbour_mode": "fast"}, r"neighbour_mode: .*'auto', 'exact' or 'lsh'"),
        ({"colour": "red"}, r"colour: unknown parameter"),
    ],
)
def test_bad_parameters(blood, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        oversample(blood, label_col="Class", **params)


def test_unknown_feature_and_unknown_minority_label(blood):
    with pytest.raises(InvalidColumnError, match=r"input_cols: \['Speed'\] not in the input"):
        oversample(blood, label_col="Class", input_cols=["Speed"])
    with pytest.raises(InvalidParameterError, match=r"minority_label: no row has 'Class' equal"):
        oversample(blood, label_col="Class", minority_label=7)


# ------------------------------------------------------------------------- Spark ML stage


def test_stage_matches_the_function_and_round_trips(blood, tmp_path):
    stage = SMOTE(labelCol="Class", percentage=200, k=4, seed=9, minorityLabel=1)
    stage.save(str(tmp_path / "smote"))
    loaded = SMOTE.load(str(tmp_path / "smote"))

    for param in stage.params:
        assert loaded.getOrDefault(param.name) == stage.getOrDefault(param)
    assert (
        loaded.settings()
        == stage.settings()
        == SmoteSettings.build(label_col="Class", percentage=200, k=4, seed=9, minority_label=1)
    )
    expected = rows(oversample(blood, stage.settings()).dataframe)
    assert rows(loaded.transform(blood)) == expected


# -------------------------------------------------------------------------- neighbours


def test_exact_neighbour_lists_equal_brute_force(spark):
    df = gaussian_frame(spark, minority=50)
    found = minority_neighbours(df, label_col="y", k=4, seed=2, neighbour_mode="exact")
    table = found.toPandas()
    points = table[["x0", "x1", "x2"]].to_numpy()
    position = {key: i for i, key in enumerate(table["key"])}
    expected = knn_brute_force(points, 4)

    assert len(table) == 50
    for i, neighbours in enumerate(table["neighbours"]):
        assert [position[key] for key in neighbours] == list(expected[i])


def test_lsh_rows_short_of_candidates_get_fallback_neighbours(spark):
    df = gaussian_frame(spark, minority=60)
    result = oversample(
        df,
        label_col="y",
        percentage=250,
        seed=4,
        neighbour_mode="lsh",
        bucket_length=0.05,
        max_bucket_size=8,
        num_hash_tables=1,
    )

    assert result.report["fallback_rows"] > 0
    assert result.dataframe.filter("y = 1").count() == 60 + 150


# ------------------------------------------------------------------------- odd inputs


def test_empty_input(blood):
    with pytest.raises(InvalidDataError, match=r"the input has no rows"):
        oversample(blood.limit(0), label_col="Class", seed=1)


def test_column_names_with_dots_spaces_and_backticks(spark):
    frame = pd.DataFrame(
        {"a.b": np.arange(30.0), "c d": np.arange(30) % 7, "e`f": np.ones(30), "ü": 1}
    )
    frame["my.label"] = ["x"] * 10 + ["z"] * 20
    df = spark.createDataFrame(frame)
    out = oversample(
        df, label_col="my.label", input_cols=["a.b", "c d", "e`f"], seed=1, synthetic_col="s"
    ).dataframe
    new = out.filter("s").toPandas()

    assert out.drop("s").schema == df.schema
    assert len(new) == 10 and (new["my.label"] == "x").all() and new["ü"].isna().all()
    assert new["a.b"].between(0, 9).all()


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_values_near_the_float_limit_stay_finite(spark, mode):
    values = np.array([1.5e308, -1.5e308, 1e300, -1e-300, 0.0, 7.0, 1.2e308, -1.7e308])
    frame = pd.DataFrame({"a": values, "b": values[::-1], "y": 1})
    frame = pd.concat([frame, pd.DataFrame({"a": [0.0] * 10, "b": 0.0, "y": 0})])
    out = oversample(
        spark.createDataFrame(frame),
        label_col="y",
        k=3,
        percentage=300,
        seed=2,
        neighbour_mode=mode,
        synthetic_col="s",
    ).dataframe
    new = out.filter("s").toPandas()[["a", "b"]].to_numpy()

    assert len(new) == 24
    assert np.isfinite(new).all()
    assert (new >= -1.7e308).all() and (new <= 1.5e308).all()


@pytest.mark.parametrize("case", ["far from the origin", "at the float limit", "narrowest buckets"])
def test_lsh_hashes_of_any_magnitude_do_not_overflow(spark, case):
    rng = np.random.default_rng(3)
    a = rng.normal(size=40)
    frame = {
        # A constant 1e20 column: the bucket numbers lie beyond the range of a long.
        "far from the origin": pd.DataFrame({"a": a, "b": 1e20}),
        "at the float limit": pd.DataFrame({"a": a * 8e306, "b": np.sign(a) * 8e307}),
        "narrowest buckets": pd.DataFrame({"a": a, "b": a[::-1]}),
    }[case].assign(y=1)
    frame = pd.concat([frame, pd.DataFrame({"a": [0.0] * 50, "b": 0.0, "y": 0})])
    params = {"label_col": "y", "minority_label": 1, "k": 3, "seed": 2, "neighbour_mode": "lsh"}
    if case == "narrowest buckets":
        params["bucket_length"] = 1e-320
    if case == "at the float limit":
        params["max_bucket_size"] = 2  # leaves of 1-2 rows: every list is completed
    df = spark.createDataFrame(frame)

    lists = minority_neighbours(df, **params).toPandas()
    new = oversample(df, percentage=200, synthetic_col="s", **params).dataframe
    new = new.filter("s").toPandas()[["a", "b"]].to_numpy()

    assert len(new) == 80 and np.isfinite(new).all()
    # Distances up to 1.6e308 stay finite, also from the fallback sample.
    assert np.isfinite(np.vstack(lists["distances"])).all()


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_a_huge_percentage_makes_its_rows_in_bounded_slices(spark, mode):
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(rng.normal(size=(30, 2)), columns=["a", "b"])
    frame["y"] = [1] * 12 + [0] * 18
    # 12 rows x 100,000 children: more than one frame holds (CHILDREN_PER_FRAME), and more
    # than the driver hands to Spark in one table.
    out = oversample(
        spark.createDataFrame(frame),
        label_col="y",
        percentage=10_000_000,
        seed=5,
        neighbour_mode=mode,
        synthetic_col="s",
    ).dataframe
    new = out.filter("s").groupBy().agg(F.count("*"), F.min("a"), F.max("a")).first()

    assert new[0] == 1_200_000
    assert frame.a[:12].min() <= new[1] and new[2] <= frame.a[:12].max()


def test_exact_mode_refuses_a_class_too_big_to_ship(blood, monkeypatch):
    monkeypatch.setattr("smote_spark.resampling._EXACT_MAX_VALUES", 100)
    with pytest.raises(
        InvalidParameterError, match=r"neighbour_mode: .*178 rows x 4 distance columns"
    ):
        oversample(blood, label_col="Class", seed=1, neighbour_mode="exact")
    auto = oversample(blood, label_col="Class", seed=1, percentage=10)

    assert auto.report["neighbour_mode"] == "lsh"


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_scaling_values_near_the_float_limit_prints_no_warning(spark, scaling):
    # Found by a new user's break test: exact mode scales on the driver, where numpy's
    # overflow warnings reached the user's terminal.
    values = np.array([1.5e308, -1.5e308, 1e300, 0.0, 7.0, 1.2e308, -1.7e308])
    frame = pd.DataFrame({"a": values, "b": values[::-1], "y": 1})
    frame = pd.concat([frame, pd.DataFrame({"a": [0.0] * 10, "b": 0.0, "y": 0})])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy overflow, not py4j sockets
        out = oversample(
            spark.createDataFrame(frame), label_col="y", k=3, seed=2, scaling=scaling
        ).dataframe

    assert out.count() == 24
