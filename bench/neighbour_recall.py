"""Recall@k and distance ratio of LSH neighbours against exact ones, with timings.

Usage: python bench/neighbour_recall.py [--rows 20000] [--dims 20] [--tables 4] ...
Prints one line per setting; the exact lists come from `minority_neighbours` in exact mode.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from smote_spark import minority_neighbours


def gaussian_mixture(rows: int, dims: int, seed: int, clusters: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (clusters, dims))
    points = centres[rng.integers(0, clusters, rows)] + rng.normal(0, 1, (rows, dims))
    frame = pd.DataFrame(points, columns=[f"x{i}" for i in range(dims)])
    frame["y"] = 1
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--dims", type=int, default=20)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--tables", type=int, nargs="+", default=[4])
    parser.add_argument("--bucket-sizes", type=int, nargs="+", default=[1000])
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame = gaussian_mixture(args.rows, args.dims, seed=1)
    frame = pd.concat([frame, frame.head(args.rows // 10).assign(y=0)])
    df = spark.createDataFrame(frame).cache()
    df.count()
    common = dict(label_col="y", minority_label=1, k=args.k, seed=3)

    start = time.perf_counter()
    exact = minority_neighbours(df, neighbour_mode="exact", **common).toPandas()
    print(f"exact: {args.rows} rows x {args.dims}: {time.perf_counter() - start:.1f} s")
    exact = exact.set_index("key")
    for tables in args.tables:
        for size in args.bucket_sizes:
            start = time.perf_counter()
            lsh = minority_neighbours(
                df, neighbour_mode="lsh", num_hash_tables=tables, max_bucket_size=size, **common
            ).toPandas()
            took = time.perf_counter() - start
            lsh = lsh.set_index("key").loc[exact.index]
            hits = [
                len(set(a) & set(b))
                for a, b in zip(lsh["neighbours"], exact["neighbours"], strict=True)
            ]
            recall = sum(hits) / (args.k * len(exact))
            ratio = np.mean([np.mean(d) for d in lsh["distances"]]) / np.mean(
                [np.mean(d) for d in exact["distances"]]
            )
            print(
                f"lsh tables={tables} max_bucket_size={size}: recall@{args.k}={recall:.3f} "
                f"distance ratio={ratio:.3f} time={took:.1f} s"
            )
    spark.stop()


if __name__ == "__main__":
    main()
