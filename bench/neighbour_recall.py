"""Recall@k and distance ratio of LSH neighbours against exact ones, with timings.

Usage::

    python bench/neighbour_recall.py [--datasets mixture census adult] [--grid small|full|none]
        [--tables 2 4 8 12] [--lengths 0.25 0.5 1 2] [--bucket-sizes 250 1000 4000]
        [--seeds 3] [--k 5] [--json PATH]

Data sets (each searched within its minority class, as `oversample` would):

* ``mixture``: a 20-feature Gaussian mixture (8 clusters), 40,000 minority rows.
* ``census``: the 12 numeric columns of ``data/census_income_kdd.csv.gz`` (``instance_weight``,
  a survey weight, is left out), class ``gt_50k`` (12,382 rows).
* ``adult``: the 5 numeric columns of ``data/adult.csv.gz`` (the unnamed index is dropped),
  class ``" >50K"`` (7,841 rows).

Features are used unscaled, as SMOTE uses them.

For each data set the exact reference is computed once (scikit-learn's brute-force search
for candidates, then distances recomputed directly from the differences and re-ranked), then
LSH runs through `minority_neighbours` at the library defaults and over a grid of
``num_hash_tables`` x bucket length x ``max_bucket_size``. The bucket length of the grid is
a multiple of the length the library derives for that ``max_bucket_size`` (see
`smote_spark.neighbours.plan_buckets`); multiple 1 means "derived", i.e. ``bucket_length``
left unset.

Measures
--------
recall@k (tie-aware)
    Real tables have many duplicate rows and equal distances, so the set of exact k nearest
    neighbours is not unique and recall by key set is ill-defined. Here a chosen neighbour
    counts as a hit if its distance to the row is at most the row's exact k-th neighbour
    distance (with a relative tolerance of 1e-9); recall@k = hits / (k * rows). The chosen
    neighbours' distances are recomputed from the points, not taken from the output.
distance ratio
    Mean distance to the chosen neighbours / mean exact k-NN distance (over all rows and
    all k positions). If the exact mean is 0, the ratio is 1 when the chosen mean is 0 too,
    and infinite otherwise.
Every LSH setting runs once per ``--seeds`` value (the seed of the keys and of the LSH
directions); rows are matched to the reference by their values, so runs with different
seeds (different keys) are scored against the same exact lists.

fallback rows
    Rows whose LSH buckets held fewer than k other rows, completed from a sample (read from
    the warning the library logs).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from sklearn.neighbors import NearestNeighbors

from smote_spark import SmoteSettings, minority_neighbours
from smote_spark.neighbours import plan_buckets

DATA = Path(__file__).resolve().parents[1] / "data"
DATASETS = ("mixture", "census", "adult")
GRIDS = {
    # tables, bucket-length multiples, max bucket sizes
    "full": ([2, 4, 8, 12], [0.25, 0.5, 1.0, 2.0], [250, 1000, 4000]),
    "small": ([2, 4, 8, 12], [0.5, 1.0, 2.0], [250, 1000, 4000]),
    "none": ([], [], []),
}
RELATIVE_TOLERANCE = 1e-9


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame
    label_col: str
    minority_label: Any
    features: list[str]


@dataclass
class Row:
    dataset: str
    rows: int
    dims: int
    setting: str
    seed: int | None
    tables: int | None
    length_multiple: float | None
    bucket_length: float | None
    max_bucket_size: int | None
    recall: float
    distance_ratio: float
    seconds: float
    fallback_rows: int | None


# ----------------------------------------------------------------------------- data


def gaussian_mixture(rows: int, dims: int, seed: int, clusters: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (clusters, dims))
    points = centres[rng.integers(0, clusters, rows)] + rng.normal(0, 1, (rows, dims))
    frame = pd.DataFrame(points, columns=[f"x{i}" for i in range(dims)])
    frame["y"] = 1
    return frame


def load(name: str, mixture_rows: int, mixture_dims: int) -> Dataset:
    if name == "mixture":
        frame = gaussian_mixture(mixture_rows, mixture_dims, seed=1)
        frame = pd.concat([frame, frame.head(mixture_rows // 10).assign(y=0)], ignore_index=True)
        return Dataset(name, frame, "y", 1, [c for c in frame.columns if c != "y"])
    if name == "census":
        frame = pd.read_csv(DATA / "census_income_kdd.csv.gz")
        features = [
            c
            for c in frame.select_dtypes("number").columns
            if c != "instance_weight"  # a survey weight, not a feature
        ]
        return Dataset(name, frame[[*features, "income"]], "income", "gt_50k", features)
    if name == "adult":
        frame = pd.read_csv(DATA / "adult.csv.gz", index_col=0)
        features = list(frame.select_dtypes("number").columns)
        return Dataset(name, frame[[*features, "income"]], "income", " >50K", features)
    raise ValueError(f"unknown data set {name!r}; choose from {DATASETS}")


# ----------------------------------------------------------------------------- measures


def exact_reference(points: np.ndarray, k: int) -> np.ndarray:
    """Exact k-NN distances per row (row itself excluded), ascending; shape (n, k).

    Brute-force candidates from scikit-learn (a margin of extra candidates absorbs the
    rounding of its |a|^2 + |b|^2 - 2ab form), then distances recomputed directly.
    """
    wanted = min(len(points) - 1, 3 * k + 10)
    _, candidates = (
        NearestNeighbors(n_neighbors=wanted, algorithm="brute", n_jobs=2).fit(points).kneighbors()
    )
    distances = np.sqrt(((points[candidates] - points[:, None, :]) ** 2).sum(axis=2))
    return np.sort(distances, axis=1)[:, :k]


def chosen_distances(
    points: np.ndarray, keys: np.ndarray, neighbours: pd.Series, k: int
) -> np.ndarray:
    """Distances to the chosen neighbours, recomputed from the points; shape (n, k)."""
    position = pd.Series(np.arange(len(keys)), index=keys)
    lists = [np.asarray(n, np.int64) for n in neighbours]
    if any(len(n) != k for n in lists):
        raise AssertionError("a row got fewer than k neighbours")
    chosen = position.loc[np.concatenate(lists)].to_numpy().reshape(len(keys), k)
    if (chosen == np.arange(len(keys))[:, None]).any():
        raise AssertionError("a row was given as its own neighbour")
    return np.sqrt(((points[chosen] - points[:, None, :]) ** 2).sum(axis=2))


def recall_and_ratio(chosen: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """Tie-aware recall@k and distance ratio (see the module docstring)."""
    kth = exact[:, -1:]
    hits = chosen <= kth * (1.0 + RELATIVE_TOLERANCE)
    recall = float(hits.mean())
    exact_mean, chosen_mean = float(exact.mean()), float(chosen.mean())
    if exact_mean == 0.0:
        ratio = 1.0 if chosen_mean == 0.0 else math.inf
    else:
        ratio = chosen_mean / exact_mean
    return recall, ratio


class FallbackCounter(logging.Handler):
    """Reads the number of fallback rows from the library's warning."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "fewer than k" in str(record.msg) and record.args:
            self.count += int(record.args[0])  # type: ignore[index,call-overload]


# ----------------------------------------------------------------------------- runs


def run_lsh(
    df: DataFrame, data: Dataset, k: int, seed: int, counter: FallbackCounter, **params: Any
) -> tuple[pd.DataFrame, float, int]:
    counter.count = 0
    start = time.perf_counter()
    table = minority_neighbours(
        df,
        label_col=data.label_col,
        minority_label=data.minority_label,
        input_cols=data.features,
        k=k,
        seed=seed,
        neighbour_mode="lsh",
        **params,
    ).toPandas()
    took = time.perf_counter() - start
    return table, took, counter.count


def score(
    table: pd.DataFrame, features: list[str], reference: np.ndarray, exact: np.ndarray, k: int
) -> tuple[float, float]:
    """Recall and ratio of one LSH output; rows matched to ``reference`` by their values.

    ``reference`` is sorted by `_value_order`; identical rows have identical exact lists,
    so matching duplicates in any order is sound.
    """
    points = table[features].to_numpy(np.float64)
    order = _value_order(points)
    if not np.array_equal(points[order], reference):
        raise AssertionError("the LSH output does not hold the class's rows")
    chosen = chosen_distances(points, table["key"].to_numpy(np.int64), table["neighbours"], k)
    return recall_and_ratio(chosen[order], exact)


def _value_order(points: np.ndarray) -> np.ndarray:
    return np.lexsort(points.T[::-1])


def bench_dataset(
    spark: SparkSession,
    data: Dataset,
    k: int,
    seeds: list[int],
    grid: tuple[list[int], list[float], list[int]],
    counter: FallbackCounter,
) -> list[Row]:
    df = spark.createDataFrame(data.frame).cache()
    df.count()
    defaults = SmoteSettings()
    minority = data.frame.loc[data.frame[data.label_col] == data.minority_label, data.features]
    points = minority.to_numpy(np.float64)
    n, dims = points.shape
    # As the library: sqrt of the mean population variance of the features.
    spread = math.sqrt(float(points.var(axis=0).mean()))

    def derived(size: int) -> float:
        return plan_buckets(n, dims, spread, defaults.num_hash_tables, size, None).bucket_length

    rows: list[Row] = []
    reference = points[_value_order(points)]
    start = time.perf_counter()
    exact = exact_reference(reference, k)
    row = Row(data.name, n, dims, "exact (sklearn brute)", None, None, None, None, None,
              1.0, 1.0, round(time.perf_counter() - start, 1), None)  # fmt: skip
    rows.append(row)
    print(_markdown_row(row), flush=True)

    settings = [(defaults.num_hash_tables, 1.0, defaults.max_bucket_size)]
    tables_grid, multiples, sizes = grid
    settings += [(t, m, s) for s in sizes for t in tables_grid for m in multiples]
    for number, (tables, multiple, size) in enumerate(settings):
        for seed in seeds:
            params: dict[str, Any] = {}
            if number > 0:  # row 0: nothing passed, the library's defaults
                params = {"num_hash_tables": tables, "max_bucket_size": size}
                # Multiple 1: leave bucket_length unset, so the library derives it.
                params["bucket_length"] = None if multiple == 1.0 else multiple * derived(size)
            table, took, fallback = run_lsh(df, data, k, seed, counter, **params)
            recall, ratio = score(table, data.features, reference, exact, k)
            row = Row(data.name, n, dims, "lsh grid" if number else "lsh defaults", seed,
                      tables, multiple, derived(size) * multiple, size, recall, ratio,
                      round(took, 1), fallback)  # fmt: skip
            rows.append(row)
            print(_markdown_row(row), flush=True)
    df.unpersist()
    return rows


# ----------------------------------------------------------------------------- output

HEADER = (
    "| dataset | rows | dims | setting | seed | tables | bucket length (x derived) "
    "| max bucket size | recall@k | distance ratio | time s | fallback rows |"
)


def _markdown_row(row: Row) -> str:
    def show(value: Any, fmt: str = "") -> str:
        return "" if value is None else format(value, fmt)

    length = (
        "" if row.bucket_length is None else f"{row.bucket_length:.4g} ({row.length_multiple:g}x)"
    )
    return (
        f"| {row.dataset} | {row.rows} | {row.dims} | {row.setting} | {show(row.seed)} "
        f"| {show(row.tables)} "
        f"| {length} | {show(row.max_bucket_size)} | {row.recall:.3f} "
        f"| {row.distance_ratio:.3f} | {row.seconds:.1f} | {show(row.fallback_rows)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[3], help="seeds; every setting runs per seed"
    )
    parser.add_argument("--mixture-rows", type=int, default=40_000)
    parser.add_argument("--mixture-dims", type=int, default=20)
    parser.add_argument(
        "--grid", choices=sorted(GRIDS), default="small", help="preset grid (default: small)"
    )
    parser.add_argument("--tables", type=int, nargs="+", help="num_hash_tables values")
    parser.add_argument(
        "--lengths", type=float, nargs="+", help="bucket lengths, as multiples of the derived one"
    )
    parser.add_argument("--bucket-sizes", type=int, nargs="+", help="max_bucket_size values")
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    args = parser.parse_args()
    preset = GRIDS[args.grid]
    grid = (
        args.tables if args.tables is not None else preset[0],
        args.lengths if args.lengths is not None else preset[1],
        args.bucket_sizes if args.bucket_sizes is not None else preset[2],
    )

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    counter = FallbackCounter()
    logging.getLogger("smote_spark").addHandler(counter)

    print(HEADER)
    print("|" + "---|" * HEADER.count(" | ") + "---|", flush=True)
    rows: list[Row] = []
    started = time.perf_counter()
    for name in args.datasets:
        data = load(name, args.mixture_rows, args.mixture_dims)
        rows.extend(bench_dataset(spark, data, args.k, args.seeds, grid, counter))
    print(f"\ntotal {time.perf_counter() - started:.0f} s, k={args.k}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
