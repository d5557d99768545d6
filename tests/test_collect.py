"""Exact mode collects its class and computes on the driver what LSH mode computes in Spark:
keys, statistics, nominal values and codes. These tests hold the two equal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from smote_spark.encoding import encode, fit_encoding
from smote_spark.exact import collect_class
from smote_spark.keys import row_key, row_keys
from smote_spark.resampling import _extract, oversample
from smote_spark.settings import SmoteSettings
from smote_spark.validation import check_columns


def test_row_keys_on_the_driver_equal_sparks(spark: SparkSession) -> None:
    rng = np.random.default_rng(3)
    content = np.r_[
        rng.integers(-(2**63), 2**63 - 1, 500, dtype=np.int64), [0, -1, 2**63 - 1, -(2**63)]
    ]
    copy = np.r_[rng.integers(1, 2**31 - 1, 500), [1, 2, 3, 2**31 - 1]]
    frame = spark.createDataFrame(pd.DataFrame({"h": content, "c": copy.astype(np.int32)}))
    spark_keys = [r[0] for r in frame.select(row_key(F.col("h"), F.col("c"))).collect()]

    assert np.array_equal(np.array(spark_keys, np.int64), row_keys(content, copy))


@pytest.fixture(scope="module")
def mixed(spark: SparkSession):
    """A class with duplicated rows, every nominal kind, and values to scale."""
    rows = []
    for n in range(60):
        row = (n % 13 * 1.5, float(n % 4) - 100.0, f"s{n % 3}", n % 2 == 0, n % 5, "rare")
        rows.append(row)
        if n % 10 == 0:
            rows += [row, row]  # two more copies
    rows += [(0.0, 1.0, "s9", True, 7, "common")] * 200
    schema = "a double, b double, s string, t boolean, i int, y string"
    return spark.createDataFrame(rows, schema)


@pytest.mark.parametrize("scaling", ["none", "standard", "minmax"])
def test_a_collected_class_has_the_keys_encoding_and_points_of_the_spark_path(
    spark: SparkSession, mixed, scaling: str
) -> None:
    settings = SmoteSettings.build(label_col="y", nominal_cols=["i"], scaling=scaling)
    features = check_columns(mixed, settings)
    rows = _extract(mixed, "y", "rare", features, 11, 72)
    expected = fit_encoding(rows, features, scaling, "rare")
    spark_rows = encode(rows, expected).toPandas().sort_values("key")

    data, encoding = collect_class(mixed, "y", "rare", features, scaling, 11)

    assert np.array_equal(data.keys, spark_rows["key"].to_numpy())
    assert len(set(data.keys)) == 72
    nominal_values = [["s0", "s1", "s2"], [False, True], [0, 1, 2, 3, 4]]
    assert encoding.values == expected.values == nominal_values
    for got, want in [
        (encoding.centre, expected.centre),
        (encoding.scale, expected.scale),
        ([encoding.weight, encoding.spread], [expected.weight, expected.spread]),
    ]:
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    search = [c for c in spark_rows.columns if c.startswith("_s")]
    codes = [c for c in spark_rows.columns if c.startswith("_c")]
    assert np.allclose(data.points, spark_rows[search].to_numpy(), rtol=1e-12, atol=1e-12)
    assert np.array_equal(data.codes, spark_rows[codes].to_numpy())
    assert np.array_equal(data.values, spark_rows[["_f0", "_f1"]].to_numpy())


@pytest.mark.parametrize(("percentage", "new_rows"), [(250, 180), (40, 29)])
def test_the_driver_and_tasks_make_the_same_rows(
    spark: SparkSession, mixed, percentage: float, new_rows: int
) -> None:
    def rows(driver_max_rows: int) -> pd.DataFrame:
        result = oversample(
            mixed,
            label_col="y",
            nominal_cols=["i"],
            percentage=percentage,
            seed=5,
            neighbour_mode="exact",
            driver_max_rows=driver_max_rows,
            synthetic_col="new",
        )
        assert result.report["neighbour_mode"] == "exact"
        frame = result.dataframe.filter("new").toPandas()
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    on_driver, in_tasks = rows(10_000), rows(0)

    assert len(on_driver) == new_rows
    pd.testing.assert_frame_equal(on_driver, in_tasks)
