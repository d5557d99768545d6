"""Nearest neighbours within the class being oversampled: exact, and bucketed (LSH).

Both modes end in the same numpy kernel, `nearest_neighbours`, which compares a set of
rows with each other exactly. Exact mode runs it over the whole class; LSH mode runs it
inside buckets of BucketedRandomProjectionLSH and merges the lists of several tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.ml.feature import BucketedRandomProjectionLSH, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from smote_spark.faults import with_faults

# Bounds the float64 distance block held at once: rows x candidates.
_BLOCK_CELLS = 4_000_000
# Columns whose k-th smallest distance bounds a query's k nearest (see nearest_neighbours).
_SAMPLE_COLUMNS = 2048
# Bucket members (rows x tables) per task of the bucket searches.
_SEARCH_ROWS_PER_TASK = 20_000
# A derived bucket (slab) aims at this many times max_bucket_size rows before it is split.
_SLAB_BUCKETS = 4

NEIGHBOURS_SCHEMA = "key long, neighbours array<long>, distances array<double>"


def search_names(d: int) -> list[str]:
    """Internal names of the distance-space columns, doubles (see `encoding`)."""
    return [f"_s{i}" for i in range(d)]


def nearest_neighbours(
    points: np.ndarray, keys: np.ndarray, k: int, queries: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of rows among ``points``, never a row itself.

    Parameters
    ----------
    points : ndarray of float64, shape (n, d)
        The rows to search; ``keys`` must be sorted ascending and unique.
    keys : ndarray of int64, shape (n,)
        A stable key per row; equal distances are ordered by key.
    k : int
        Neighbours wanted; rows get ``min(k, n - 1)``.
    queries : ndarray of int, optional
        Positions in ``points`` of the rows whose neighbours are wanted (default: all).

    Returns
    -------
    positions : ndarray of int64, shape (q, min(k, n - 1))
        Positions in ``points`` of each query's neighbours, nearest first, ties by key.
    distances : ndarray of float64, same shape
        Euclidean distances, computed directly from the differences, so the same pair
        gets the same distance whichever block it was found in.

    Notes
    -----
    A block of queries is compared with every row by one matrix product (the fast
    ``|b|^2 - 2ab`` form of the squared distance). The k-th smallest value among the first
    `_SAMPLE_COLUMNS` rows bounds each query's k-th smallest; every row within that bound,
    widened by the form's worst rounding, is a candidate, and candidates are ranked by
    their exact distance, then key. So the result is the exact k nearest (ties by key)
    whatever the rounding of the product, and the work beyond the product is a comparison
    per cell instead of a selection per cell.
    """
    n = len(points)
    queries = np.arange(n) if queries is None else np.asarray(queries)
    kept = min(k, n - 1)
    if kept <= 0:
        return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0))
    # A power-of-two scale is exact and keeps squares of values near the float limits
    # (1e300, 1e-300) from overflowing or vanishing; ranks do not depend on it. Centring
    # keeps the rounding of the fast form small; after both, every value lies in [-2, 2].
    unit = _power_of_two_scale(points)
    points = points / unit
    # Distance columns that overflowed (inf, from scaling values near the float limit) still
    # rank; no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        centred = points - points.mean(axis=0)
        squares = np.einsum("ij,ij->i", centred, centred)
        # The fast form runs in float32 (twice the speed of float64): it only picks candidates.
        fast = centred.astype(np.float32)
        doubled = -2.0 * fast  # exact: a power of two
        fast_squares = squares.astype(np.float32)
        # Worst rounding of the float32 form against the exact squared distance, with room
        # to spare: relative to |a|^2 + |b|^2, plus what underflow can lose in each product.
        f32 = np.finfo(np.float32)
        d = points.shape[1]
        tolerance = 8.0 * (d + 2) * float(f32.eps) * (squares + squares.max())
        tolerance += 8.0 * (d + 2) * float(f32.tiny)
    sample = min(n, max(_SAMPLE_COLUMNS, 4 * (kept + 1)))
    block = max(1, _BLOCK_CELLS // n)
    positions = np.empty((len(queries), kept), np.int64)
    distances = np.empty((len(queries), kept))
    buffer = np.empty((min(block, len(queries)), n), np.float32)
    # Values near the float limit overflow to inf distances; they still rank, so no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(queries), block):
            rows = queries[start : start + block]
            # |b|^2 - 2ab ranks like the squared distance (|a|^2 is constant per row);
            # computed in place, as this block is where exact mode spends its time.
            d2 = np.matmul(doubled[rows], fast.T, out=buffer[: len(rows)])
            d2 += fast_squares
            d2[np.arange(len(rows)), rows] = np.inf
            bound = np.partition(d2[:, :sample], kept - 1, axis=1)[:, kept - 1]
            # Rounded up to the next float32, so that the comparison loses nothing.
            limit = (bound.astype(np.float64) + tolerance[rows]).astype(np.float32)
            limit = np.nextafter(limit, np.float32(np.inf))
            # Row-major flat positions: numpy finds them far faster than 2-D ones.
            flat = np.flatnonzero(d2 <= limit[:, None])
            row, candidate = np.divmod(flat, n)
            found = np.bincount(row, minlength=len(rows))
            if found.min() < kept:
                # Only with overflowed (NaN) values: rank the whole block exactly.
                row = np.repeat(np.arange(len(rows)), n)
                candidate = np.tile(np.arange(n), len(rows))
                candidate, row = candidate[candidate != rows[row]], row[candidate != rows[row]]
            exact = _pair_distances(points, rows[row], candidate)
            order = np.lexsort((keys[candidate], exact, row))
            first = np.searchsorted(row[order], np.arange(len(rows)))
            chosen = order[first[:, None] + np.arange(kept)]
            positions[start : start + block] = candidate[chosen]
            distances[start : start + block] = exact[chosen]
        distances *= unit
    return positions, distances


def _pair_distances(points: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Euclidean distances of the pairs (left[i], right[i]), from the differences."""
    out = np.empty(len(left))
    step = max(1, _BLOCK_CELLS // max(points.shape[1], 1))
    for start in range(0, len(left), step):
        pairs = slice(start, start + step)
        difference = points[left[pairs]] - points[right[pairs]]
        out[pairs] = np.sqrt(np.einsum("ij,ij->i", difference, difference))
    return out


def _power_of_two_scale(points: np.ndarray) -> float:
    """A power of two that brings the largest magnitude into [1, 2): exact to divide by,
    and itself finite even for values at the float limit (frexp, no overflowing power)."""
    largest = float(np.abs(points).max()) if points.size else 0.0
    if largest == 0.0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


# --------------------------------------------------------------------------- LSH


@dataclass(frozen=True)
class BucketPlan:
    """How LSH buckets are made: ``tables`` tables of one projection of this width."""

    bucket_length: float
    tables: int
    max_bucket_size: int


def plan_buckets(
    n: int, spread: float, tables: int, max_bucket_size: int, bucket_length: float | None
) -> BucketPlan:
    """Choose the bucket width from the class size and spread.

    ``spread`` is the typical standard deviation of the class along a random direction,
    sqrt(mean feature variance). A slab of width ``w`` through the middle of the class holds
    about ``n * w / (spread * sqrt(2 pi))`` rows; ``w`` aims that at a few times
    ``max_bucket_size``, so that the slab is then cut into chunks along a second random
    direction. Measured on a 20-feature Gaussian mixture (40,000 rows, 8 tables,
    bench/neighbour_recall.py), this found 98.9% of the exact neighbours with buckets of
    2,000 rows and 90.8% with 1,000; buckets made of two projections of fixed width found
    52% at 4 tables on 20,000 rows.
    """
    if bucket_length is None:
        share = min(1.0, _SLAB_BUCKETS * max_bucket_size / max(n, 1))
        bucket_length = max(spread, 1e-12) * math.sqrt(2.0 * math.pi) * share
    return BucketPlan(bucket_length, tables, max_bucket_size)


def lsh_candidates(
    minority: DataFrame, rows: int, d: int, k: int, plan: BucketPlan, seed: int
) -> DataFrame:
    """Candidate neighbour lists from every LSH table, merged to each row's k best.

    ``minority`` has ``rows`` rows: ``key`` and the double columns of `search_names`. Returns
    `NEIGHBOURS_SCHEMA` rows; a row whose buckets held fewer than k other rows gets a
    shorter list (see `fill_short_lists`).
    """
    names = search_names(d)
    hashed = _hash(minority, names, plan, seed)
    members = _bucket_members(hashed, names, plan, seed)
    search = with_faults(minority.sparkSession, "candidates", _bucket_search(names, k))
    # An explicit count of partitions: left to adaptive execution, these few megabytes
    # would be coalesced into one task, and the searches would run on one core.
    tasks = max(1, math.ceil(rows * plan.tables / _SEARCH_ROWS_PER_TASK))
    grouped = members.repartition(tasks, "table", "bucket", "chunk")
    found = grouped.groupBy("table", "bucket", "chunk").applyInPandas(search, NEIGHBOURS_SCHEMA)
    # explode_outer: a row alone in all its buckets keeps an (empty) list, for the fallback.
    pairs = found.select(
        "key", F.explode_outer(F.arrays_zip("distances", "neighbours")).alias("pair")
    ).distinct()
    ranked = pairs.groupBy("key").agg(
        F.slice(F.array_sort(F.collect_list("pair")), 1, k).alias("best")
    )
    return ranked.select(
        "key",
        F.col("best.neighbours").alias("neighbours"),
        F.col("best.distances").alias("distances"),
    )


def _hash(minority: DataFrame, names: list[str], plan: BucketPlan, seed: int) -> DataFrame:
    assembled = VectorAssembler(inputCols=names, outputCol="_vector").transform(minority)
    lsh = BucketedRandomProjectionLSH(
        inputCol="_vector",
        outputCol="_hashes",
        bucketLength=plan.bucket_length,
        numHashTables=plan.tables,
        seed=seed,
    )
    return lsh.fit(assembled).transform(assembled).drop("_vector")


def _bucket_members(hashed: DataFrame, names: list[str], plan: BucketPlan, seed: int) -> DataFrame:
    """One row per (row, table): its bucket, and its chunk when the bucket is too big.

    An oversized bucket is cut into even chunks along a further random direction, so
    its pieces stay local and no comparison grows with the square of a bucket.
    """
    rng = np.random.default_rng([seed, 0x6C7368])
    directions = rng.standard_normal((plan.tables, len(names)))
    per_table = []
    for t in range(plan.tables):
        slab = vector_to_array(F.col("_hashes")[t])[0].cast("long")
        projection = _balanced_sum(
            [F.col(name) * float(w) for name, w in zip(names, directions[t], strict=True)]
        )
        per_table.append(
            F.struct(
                F.lit(t).alias("table"),
                slab.alias("bucket"),
                projection.alias("projection"),
            )
        )
    exploded = hashed.select("key", *names, F.explode(F.array(*per_table)).alias("h")).select(
        "key", *names, "h.table", "h.bucket", "h.projection"
    )
    bucket = Window.partitionBy("table", "bucket")
    size = F.count(F.lit(1)).over(bucket)
    rank = F.row_number().over(bucket.orderBy("projection", "key")) - 1
    chunks = F.ceil(size / F.lit(plan.max_bucket_size))
    return exploded.withColumn(
        "chunk", F.when(size > plan.max_bucket_size, F.floor(rank * chunks / size)).otherwise(0)
    ).drop("projection")


def _balanced_sum(terms: list[Column]) -> Column:
    """The sum of ``terms`` as a tree of depth log2(n): a chain of n additions (hundreds of
    one-hot columns) overflows the JVM's stack when Spark compiles it."""
    if not terms:
        return F.lit(0.0)
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + terms[len(terms) - len(terms) % 2 :]
    return terms[0]


def _bucket_search(names: list[str], k: int) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def search(group: pd.DataFrame) -> pd.DataFrame:
        group = group.sort_values("key", kind="stable")
        keys = group["key"].to_numpy(np.int64)
        positions, distances = nearest_neighbours(group[names].to_numpy(np.float64), keys, k)
        return pd.DataFrame(
            {"key": keys, "neighbours": list(keys[positions]), "distances": list(distances)}
        )

    return search


def fill_short_lists(
    candidates: DataFrame, minority: DataFrame, d: int, k: int, sample_rows: int
) -> tuple[DataFrame, int]:
    """Give rows with fewer than k candidates the nearest rows of a fixed sample as well.

    The sample is the ``sample_rows`` rows of smallest key (keys are seeded hashes, so
    this is a seeded random sample), collected once. Returns the completed lists and the
    number of rows that needed the fallback.
    """
    short = candidates.filter(F.size("neighbours") < k)
    count = short.count()
    if count == 0:
        return candidates, 0
    names = search_names(d)
    sample = minority.orderBy("key").limit(sample_rows).toPandas()
    sample_keys = sample["key"].to_numpy(np.int64)
    sample_points = sample[names].to_numpy(np.float64)

    def complete(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield _complete_batch(batch, names, sample_keys, sample_points, k)

    completed = short.join(minority, "key").mapInPandas(complete, NEIGHBOURS_SCHEMA)
    kept = candidates.filter(F.size("neighbours") >= k)
    return kept.unionByName(completed), count


def _complete_batch(
    batch: pd.DataFrame, names: list[str], sample_keys: np.ndarray, sample: np.ndarray, k: int
) -> pd.DataFrame:
    out_neighbours, out_distances = [], []
    points = batch[names].to_numpy(np.float64)
    for point, key, own, own_dist in zip(
        points, batch["key"], batch["neighbours"], batch["distances"], strict=True
    ):
        distances = np.sqrt(((sample - point) ** 2).sum(axis=1))
        pool = dict(zip(np.asarray(own, np.int64), np.asarray(own_dist), strict=True))
        for other, dist in zip(sample_keys, distances, strict=True):
            if other != key:
                pool.setdefault(int(other), float(dist))
        best = sorted(pool.items(), key=lambda item: (item[1], item[0]))[:k]
        out_neighbours.append([int(other) for other, _ in best])
        out_distances.append([float(dist) for _, dist in best])
    return pd.DataFrame(
        {
            "key": batch["key"].to_numpy(np.int64),
            "neighbours": out_neighbours,
            "distances": out_distances,
        }
    )
