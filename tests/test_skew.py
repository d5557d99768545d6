"""Skewed classes in LSH mode: every bucket search stays within max_bucket_size rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smote_spark import neighbours, oversample
from smote_spark.neighbours import (
    bucket_members,
    leaves,
    plan_buckets,
    search_names,
)

CAP = 50
GROUP = 300


def skewed(spark: SparkSession, kind: str, n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(31)
    if kind == "identical":
        points = np.tile([1.5, -2.0, 0.25], (n, 1))
    else:  # 90% of the rows in one tight cluster, the rest spread out
        tight = n * 9 // 10
        points = np.vstack(
            [rng.normal(0.0, 1e-3, (tight, 3)), rng.normal(0.0, 3.0, (n - tight, 3))]
        )
    frame = pd.DataFrame(points, columns=["a", "b", "c"])
    frame["y"] = 1
    return pd.concat([frame, frame.head(200).assign(y=0, a=9.0)], ignore_index=True)


def largest_groups(df: DataFrame, spread: float, n: int) -> tuple[int, int]:
    """Rows in the largest (table, group) that one task holds, with buckets cut into groups
    of GROUP rows, and in the largest leaf that one exact search compares."""
    names = search_names(3)
    rows = df.filter("y = 1").select(
        F.monotonically_increasing_id().alias("key"),
        *(F.col(c).alias(n) for c, n in zip("abc", names, strict=True)),
    )
    plan = replace(plan_buckets(n, 3, spread, 4, CAP, None), group_rows=GROUP)
    members = bucket_members(rows, n, names, plan, 5).toPandas()
    directions = np.random.default_rng(0).standard_normal((64, 3))
    largest_leaf = 0
    for _, group in members.groupby(["table", "group"]):
        points, keys = group[names].to_numpy(), group["key"].to_numpy()
        largest_leaf = max(
            largest_leaf, *(len(leaf) for leaf in leaves(points, keys, CAP, directions))
        )
    largest_group = int(members.groupby(["table", "group"]).size().max())
    return largest_group, largest_leaf


@pytest.mark.parametrize("kind", ["identical", "cluster90"])
def test_skewed_classes_are_searched_in_groups_no_larger_than_the_cap(
    spark: SparkSession, kind: str
) -> None:
    frame = skewed(spark, kind)
    df = spark.createDataFrame(frame)
    spread = float(np.sqrt(frame[frame.y == 1][["a", "b", "c"]].var(ddof=0).mean()))

    # All 1,200 rows (or 1,080) fall into one bucket: Spark cuts it into groups of at most
    # GROUP rows, and each task cuts its group into leaves of at most CAP.
    largest_group, largest_leaf = largest_groups(df, spread, 1200)
    assert largest_group <= GROUP
    assert CAP // 2 <= largest_leaf <= CAP

    result = oversample(
        df,
        label_col="y",
        minority_label=1,
        percentage=100,
        seed=4,
        neighbour_mode="lsh",
        max_bucket_size=CAP,
        num_hash_tables=4,
        synthetic_col="s",
    )
    new = result.dataframe.filter("s").toPandas()
    result.release()

    # Every base row got its child; only outliers of the spread-out 10% may have needed the
    # fallback sample (counted), as their buckets hold few rows.
    assert len(new) == 1200
    assert result.report["fallback_rows"] <= (0 if kind == "identical" else 120)
    assert np.isfinite(new[["a", "b", "c"]].to_numpy()).all()
    if kind == "identical":
        assert (new[["a", "b", "c"]].to_numpy() == [1.5, -2.0, 0.25]).all()


def test_groups_fitted_on_a_sample_give_the_same_rows_whatever_the_partitioning(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sample of 64 rows and groups of about 100: the class is cut by sample-fitted trees,
    # as a class of millions of rows is.
    monkeypatch.setattr(neighbours, "_TREE_SAMPLE_ROWS", 64)
    monkeypatch.setattr(neighbours, "_GROUP_VALUES", 300)
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(700, 3)), columns=["a", "b", "c"])
    frame["y"] = [1] * 600 + [0] * 100
    df = spark.createDataFrame(frame)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    outputs = []
    try:
        for partitions in (1, 7):
            spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
            out = oversample(
                df.orderBy(F.rand(partitions)).repartition(partitions + 2),
                label_col="y",
                minority_label=1,
                percentage=100,
                seed=13,
                neighbour_mode="lsh",
                max_bucket_size=40,
            )
            assert out.report["buckets"]["group_rows"] == 100
            outputs.append(sorted(tuple(row) for row in out.dataframe.collect()))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)

    assert len(outputs[0]) == 1300
    assert outputs[0] == outputs[1]
