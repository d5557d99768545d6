"""Skewed classes in LSH mode: every bucket search stays within max_bucket_size rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smote_spark import oversample
from smote_spark.neighbours import _bucket_members, _hash, plan_buckets, search_names

CAP = 50


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


def largest_search(df: DataFrame, spread: float, n: int) -> int:
    """Rows in the largest (table, bucket, chunk) group that one search compares."""
    names = search_names(3)
    rows = df.filter("y = 1").select(
        F.monotonically_increasing_id().alias("key"),
        *(F.col(c).alias(n) for c, n in zip("abc", names, strict=True)),
    )
    plan = plan_buckets(n, spread, 4, CAP, None)
    members = _bucket_members(_hash(rows, names, plan, 5), names, plan, 5)
    sizes = members.groupBy("table", "bucket", "chunk").count()
    largest = sizes.agg(F.max("count")).first()
    assert largest is not None
    return int(largest[0])


@pytest.mark.parametrize("kind", ["identical", "cluster90"])
def test_skewed_classes_are_searched_in_groups_no_larger_than_the_cap(
    spark: SparkSession, kind: str
) -> None:
    frame = skewed(spark, kind)
    df = spark.createDataFrame(frame)
    spread = float(np.sqrt(frame[frame.y == 1][["a", "b", "c"]].var(ddof=0).mean()))

    # All 1,200 rows (or 1,080) fall into one slab; its chunks still hold at most CAP.
    assert largest_search(df, spread, 1200) <= CAP

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
    # fallback sample (counted), as their slabs hold few rows.
    assert len(new) == 1200
    assert result.report["fallback_rows"] <= (0 if kind == "identical" else 120)
    assert np.isfinite(new[["a", "b", "c"]].to_numpy()).all()
    if kind == "identical":
        assert (new[["a", "b", "c"]].to_numpy() == [1.5, -2.0, 0.25]).all()
