"""Parity with the single-machine references: scikit-learn's neighbours, imbalanced-learn's SMOTE.

Both are test dependencies only.
"""

from __future__ import annotations

from pathlib import Path

import imblearn.over_sampling
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from scipy.stats import ks_2samp
from sklearn.neighbors import NearestNeighbors

from smote_spark import minority_neighbours, oversample

BLOOD = Path(__file__).resolve().parents[1] / "data" / "blood_transfusion.csv"
FEATURES = ["Recency", "Frequency", "Monetary", "Time"]


def test_exact_neighbours_match_scikit_learn_on_blood_data(spark: SparkSession) -> None:
    df = spark.read.csv(str(BLOOD), header=True, inferSchema=True)
    ours = minority_neighbours(df, label_col="Class", k=5, seed=1, neighbour_mode="exact")
    table = ours.toPandas()
    points = table[FEATURES].to_numpy(np.float64)
    reference_distances, _ = NearestNeighbors(n_neighbors=5).fit(points).kneighbors()
    position = {key: i for i, key in enumerate(table["key"])}

    assert len(table) == 178
    # The blood data has duplicate rows and equal distances, so sets can differ only by
    # tied rows: the distance lists must be equal, and every neighbour a real other row.
    np.testing.assert_allclose(np.vstack(table["distances"]), reference_distances, rtol=1e-12)
    for i, keys in enumerate(table["neighbours"]):
        assert i not in [position[key] for key in keys]


@pytest.mark.parametrize("feature", [0, 1, 2])
def test_synthetic_rows_distributed_like_imbalanced_learn(
    spark: SparkSession, feature: int
) -> None:
    rng = np.random.default_rng(8)
    minority = rng.gamma(2.0, 1.5, (150, 3)) * [1.0, 4.0, 0.5]
    majority = rng.normal(8.0, 1.0, (400, 3))
    frame = pd.DataFrame(np.vstack([minority, majority]), columns=["a", "b", "c"])
    frame["y"] = [1] * 150 + [0] * 400
    df = spark.createDataFrame(frame).cache()

    ours, reference = [], []
    for seed in range(5):
        out = oversample(df, label_col="y", k=5, seed=seed, synthetic_col="s").dataframe
        ours.append(out.filter("s").toPandas()[["a", "b", "c"]].to_numpy())
        sampler = imblearn.over_sampling.SMOTE(
            sampling_strategy={1: 300}, k_neighbors=5, random_state=seed
        )
        x, _ = sampler.fit_resample(frame[["a", "b", "c"]].to_numpy(), frame["y"].to_numpy())
        reference.append(x[len(frame) :])
    ours_all, reference_all = np.vstack(ours), np.vstack(reference)

    assert ours_all.shape == reference_all.shape == (750, 3)
    # Two-sample Kolmogorov-Smirnov test per feature, 750 rows a side; threshold p > 0.001.
    assert ks_2samp(ours_all[:, feature], reference_all[:, feature]).pvalue > 0.001
    # Means and standard deviations agree within 10% of the reference's spread.
    spread = reference_all[:, feature].std()
    assert abs(ours_all[:, feature].mean() - reference_all[:, feature].mean()) < 0.1 * spread
    assert abs(ours_all[:, feature].std() - spread) < 0.1 * spread


def test_lsh_recall_and_distance_ratio_on_a_gaussian_mixture(spark: SparkSession) -> None:
    rng = np.random.default_rng(5)
    centres = rng.normal(0, 4, (4, 6))
    points = centres[rng.integers(0, 4, 3000)] + rng.normal(0, 1, (3000, 6))
    frame = pd.DataFrame(points, columns=[f"x{i}" for i in range(6)])
    frame["y"] = 1
    frame = pd.concat([frame, frame.head(300).assign(y=0)])
    df = spark.createDataFrame(frame).cache()
    # max_bucket_size 200 makes this small class bucket and split as a large one would.
    common = {"label_col": "y", "minority_label": 1, "k": 5, "seed": 3, "max_bucket_size": 200}
    exact = minority_neighbours(df, neighbour_mode="exact", **common).toPandas().set_index("key")
    lsh = minority_neighbours(df, neighbour_mode="lsh", **common).toPandas().set_index("key")
    lsh = lsh.loc[exact.index]
    pairs = zip(lsh["neighbours"], exact["neighbours"], strict=True)
    hits = sum(len(set(a) & set(b)) for a, b in pairs)
    recall = hits / (5 * len(exact))
    ratio = np.vstack(lsh["distances"]).mean() / np.vstack(exact["distances"]).mean()

    assert len(lsh) == 3000
    assert recall >= 0.9, recall
    assert ratio <= 1.05, ratio


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_same_rows_whatever_the_shuffle_partitions_and_input_order(
    spark: SparkSession, mode: str
) -> None:
    rng = np.random.default_rng(12)
    frame = pd.DataFrame(rng.normal(size=(260, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = [1] * 60 + [0] * 200
    df = spark.createDataFrame(frame)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    outputs = []
    try:
        for partitions in ("1", "7", "200"):
            spark.conf.set("spark.sql.shuffle.partitions", partitions)
            out = oversample(
                df.orderBy(F.rand(int(partitions))).repartition(int(partitions) % 5 + 1),
                label_col="y",
                percentage=170,
                seed=21,
                neighbour_mode=mode,
                max_bucket_size=16,
            ).dataframe
            outputs.append(sorted(tuple(row) for row in out.collect()))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)

    assert len(outputs[0]) == 260 + 102
    assert outputs[0] == outputs[1] == outputs[2]


def test_lsh_rows_short_of_candidates_still_get_k_neighbours(spark: SparkSession) -> None:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(rng.normal(size=(90, 3)), columns=["a", "b", "c"])
    frame["y"] = [1] * 70 + [0] * 20
    df = spark.createDataFrame(frame)
    # Buckets so narrow and small that most rows find fewer than k others in them.
    tiny = {"neighbour_mode": "lsh", "bucket_length": 0.02, "max_bucket_size": 4}
    tiny |= {"num_hash_tables": 1, "label_col": "y", "minority_label": 1, "k": 5, "seed": 2}

    table = minority_neighbours(df, **tiny).toPandas()
    result = oversample(df, percentage=250, **tiny)

    assert sorted(table["key"]) == sorted(set(table["key"])) and len(table) == 70
    for key, neighbours in zip(table["key"], table["neighbours"], strict=True):
        assert len(set(neighbours)) == 5 and key not in neighbours
    # Chunks of at most 4 rows give at most 3 candidates: every row needs the fallback.
    assert result.report["fallback_rows"] == 70
    # 70 rows at 250%: every row 2 children and a seeded 35 of them a third.
    assert result.dataframe.filter("y = 1").count() == 70 + 175
