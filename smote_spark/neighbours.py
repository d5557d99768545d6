"""Nearest neighbours within the class being oversampled: exact, and bucketed (LSH).

Both modes end in the same numpy kernel, `nearest_neighbours`, which compares a set of
rows with each other exactly. Exact mode runs it over the whole class; LSH mode runs it
inside the leaves of BucketedRandomProjectionLSH buckets cut by median cuts (random-projection
trees), and merges the lists of several tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml.feature import BucketedRandomProjectionLSH, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from smote_spark.faults import with_faults

# Bounds the float64 distance block held at once: rows x candidates.
_BLOCK_CELLS = 4_000_000
# Columns whose k-th smallest distance bounds a query's k nearest (see nearest_neighbours).
_SAMPLE_COLUMNS = 2048
# Bucket members (rows x tables) per task of the bucket searches.
_SEARCH_ROWS_PER_TASK = 100_000
# Search values (rows x features) one task's group holds at most; larger buckets are cut
# by Spark before the search (see cut_buckets).
_GROUP_VALUES = 8_000_000
# Median cuts of a bucket into groups at most; directions a task cycles through in a group.
_MAX_LEVELS = 40
_MAX_DEPTH = 64
# Bucket numbers are clamped to +-2^62 (see _bucket_number).
_LARGEST_BUCKET = float(2**62)
# Rows of the sample that the group cuts are fitted to.
_TREE_SAMPLE_ROWS = 65_536
# Candidate pairs (rows x tables x k) per task of the merge, and rows per output batch.
_MERGE_PAIRS_PER_TASK = 4_000_000
_MERGE_ROWS_PER_BATCH = 50_000
_PAIRS_SCHEMA = "key long, neighbour long, distance double"

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

    A row with at least k exact copies (the same values) has them as its neighbours, at
    distance 0, the copies of smallest key first: it is not searched. So a class of many
    identical rows costs no comparisons.
    """
    n = len(points)
    queries = np.arange(n) if queries is None else np.asarray(queries)
    kept = min(k, n - 1)
    if kept <= 0:
        return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0))
    copied, copies = _first_copies(points, queries, kept)
    if not copied.any():
        return _search(points, keys, kept, queries)
    positions = np.empty((len(queries), kept), np.int64)
    distances = np.zeros((len(queries), kept))
    positions[copied] = copies
    if not copied.all():
        rest = ~copied
        positions[rest], distances[rest] = _search(points, keys, kept, queries[rest])
    return positions, distances


def _first_copies(
    points: np.ndarray, queries: np.ndarray, kept: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which queries have more than ``kept`` rows of the same values (themselves included),
    and for those, the first ``kept`` such rows other than themselves, by position."""
    rows = np.ascontiguousarray(points) + 0.0  # -0.0 as 0.0: rows at distance 0 are equal
    # A hash of each row's bytes (wrapping arithmetic); equal hashes are checked below.
    with np.errstate(over="ignore"):
        words = rows.view(np.uint64).reshape(len(rows), -1)
        multipliers = np.arange(words.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        multipliers *= np.uint64(0x9E3779B97F4A7C15)
        hashed = (words * multipliers).sum(axis=1, dtype=np.uint64) if words.size else words.sum(1)
    _, inverse, counts = np.unique(hashed, return_inverse=True, return_counts=True)
    copied = counts[inverse[queries]] > kept
    if not copied.any():
        return copied, np.empty((0, kept), np.int64)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ask = queries[copied]
    first = order[starts[inverse[ask]][:, None] + np.arange(kept + 1)]
    # Same hash but other values (a collision): searched instead.
    same = (rows[first] == rows[ask][:, None, :]).all(axis=(1, 2))
    copied[np.flatnonzero(copied)[~same]] = False
    ask, first = ask[same], first[same]
    itself = first == ask[:, None]
    dropped = np.where(itself.any(axis=1), itself.argmax(axis=1), kept)
    keep = np.ones(first.shape, bool)
    keep[np.arange(len(ask)), dropped] = False
    return copied, first[keep].reshape(len(ask), kept)


def _search(
    points: np.ndarray, keys: np.ndarray, kept: int, queries: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`nearest_neighbours` by comparison (see its notes); ``kept`` is at most n - 1."""
    n = len(points)
    # A power-of-two scale is exact and keeps squares of values near the float limits
    # (1e300, 1e-300) from overflowing or vanishing; ranks do not depend on it. Centring
    # on the median keeps the rounding of the fast form small where most rows are (a mean
    # pulled off a tight cluster by a few far rows would widen every bound there); after
    # both, every value lies in [-2, 2].
    unit = _power_of_two_scale(points)
    points = points / unit
    # Distance columns that overflowed (inf, from scaling values near the float limit) still
    # rank; no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        centred = points - np.median(points, axis=0)
        squares = np.einsum("ij,ij->i", centred, centred)
        # The fast form runs in float32 (twice the speed of float64): it only picks candidates.
        fast = centred.astype(np.float32)
        doubled = -2.0 * fast  # exact: a power of two
        # Worst rounding of the float32 form for a pair (a, b), with room to spare: at most
        # slack(a) + slack(b), each relative to its row's square, plus what underflow can
        # lose in each product. Per row, not the largest: a far row in the block must not
        # widen the bound of every other.
        f32 = np.finfo(np.float32)
        d = points.shape[1]
        slack = 8.0 * (d + 2) * (float(f32.eps) * squares + float(f32.tiny))
        # |b|^2 + slack(b) makes the form an upper bound of the exact value (less slack(a)),
        # |b|^2 - slack(b) a lower bound (plus slack(a)).
        above = (squares + slack).astype(np.float32)
        below = (squares - slack).astype(np.float32)
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
            # The k-th smallest upper bound among the sample columns bounds the k-th
            # nearest; every row whose lower bound is within it (widened by the query's own
            # slack, twice) is a candidate.
            upper = d2[:, :sample] + above[:sample]
            own = np.flatnonzero(rows < sample)
            upper[own, rows[own]] = np.inf
            upper.partition(kept - 1, axis=1)  # in place: upper is a fresh array
            bound = upper[:, kept - 1]
            d2 += below
            d2[np.arange(len(rows)), rows] = np.inf
            # Rounded up to the next float32, so that the comparison loses nothing.
            limit = (bound.astype(np.float64) + 2.0 * slack[rows]).astype(np.float32)
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
    """How LSH buckets are made and cut.

    Each of ``tables`` tables puts a row in a BucketedRandomProjectionLSH bucket
    ``bucket_length`` wide. A bucket of more than ``group_rows`` rows is cut, by a tree of
    median cuts fitted to a sample, into groups of about ``group_rows`` (what one task
    holds), and the task cuts its group the same way, exactly, down to leaves of at most
    ``max_bucket_size`` rows, which it searches exactly.
    """

    bucket_length: float
    tables: int
    max_bucket_size: int
    group_rows: int


def plan_buckets(
    n: int,
    d: int,
    spread: float,
    tables: int | None,
    max_bucket_size: int,
    bucket_length: float | None,
) -> BucketPlan:
    """Choose the bucket width, the tables and the largest group one task holds.

    ``spread`` is the typical standard deviation of the class along a random direction,
    sqrt(mean feature variance); the distance space is centred on the class. The derived
    width, ``spread * sqrt(2 pi)``, cuts the hashed direction about once, near the centre;
    the median cuts then spread the remaining cuts over many directions, like a
    random-projection tree. Many fixed-width cuts along one direction part neighbours far
    more often: on 2,000,000 rows of a 20-feature Gaussian mixture (16 tables, leaves of
    at most 4,000 rows), buckets holding a fifth of the class along one direction found 68%
    of the exact neighbours, a tree of one median cut per direction 94%.

    Each cut on the way to a leaf can part a row from a neighbour, so a class many leaves
    large needs more tables: the derived count is 8 up to 32 leaves' worth of rows
    (``n <= 32 * max_bucket_size``), then 3 more for each doubling of the class, at most
    64. Measured with such trees (bench/generate.py's mixture, 20 features, 1,000
    queries), one table found a given true neighbour with probability 0.23 at 200,000 rows
    in leaves of 2,000, 0.17 at 2,000,000 rows in leaves of 4,000 and 0.13 in leaves of
    2,000: the derived counts (13, 20, 23) miss fewer than 1 in 20.
    """
    if tables is None:
        depth = math.log2(max(n, 1) / max_bucket_size)
        tables = min(64, 8 + math.ceil(3 * max(0.0, depth - 5)))
    if bucket_length is None:
        bucket_length = max(spread, 1e-12) * math.sqrt(2.0 * math.pi)
    group_rows = max(max_bucket_size, _GROUP_VALUES // max(d, 1))
    return BucketPlan(bucket_length, tables, max_bucket_size, group_rows)


def lsh_candidates(
    minority: DataFrame, rows: int, d: int, k: int, plan: BucketPlan, seed: int
) -> DataFrame:
    """Candidate neighbour lists from every LSH table, merged to each row's k best.

    ``minority`` has ``rows`` rows: ``key`` and the double columns of `search_names`. Returns
    `NEIGHBOURS_SCHEMA` rows; a row whose leaves held fewer than k other rows gets a shorter
    list (see `fill_short_lists`).
    """
    names = search_names(d)
    members = bucket_members(minority, rows, names, plan, seed)
    spark = minority.sparkSession
    search = with_faults(spark, "candidates", _leaf_search(names, k, plan, seed))
    # An explicit count of partitions: left to adaptive execution, these few groups would
    # be coalesced into one task, and the searches would run on one core.
    tasks = max(plan.tables, math.ceil(rows * plan.tables / _SEARCH_ROWS_PER_TASK))
    grouped = members.repartition(tasks, "table", "group")
    found = grouped.groupBy("table", "group").applyInPandas(search, _PAIRS_SCHEMA)
    merges = max(1, math.ceil(rows * plan.tables * k / _MERGE_PAIRS_PER_TASK))
    return found.repartition(merges, "key").mapInPandas(_merge_lists(k), NEIGHBOURS_SCHEMA)


def bucket_members(
    minority: DataFrame, rows: int, names: list[str], plan: BucketPlan, seed: int
) -> DataFrame:
    """One row per (row, table): ``key``, the search columns, ``table`` and ``group`` (its
    LSH bucket in that table, cut to about ``plan.group_rows`` rows; see `GroupTrees`)."""
    assemble = VectorAssembler(inputCols=names, outputCol="_vector")
    model = BucketedRandomProjectionLSH(
        inputCol="_vector",
        outputCol="_hashes",
        bucketLength=plan.bucket_length,
        numHashTables=plan.tables,
        seed=seed,
    ).fit(assemble.transform(minority))
    buckets = [f"_b{t}" for t in range(plan.tables)]

    def hashed(frame: DataFrame) -> DataFrame:
        return model.transform(assemble.transform(frame)).select(
            "key",
            *names,
            *(_bucket_number(F.col("_hashes")[t]).alias(b) for t, b in enumerate(buckets)),
        )

    # The sample: the rows of smallest key (keys are seeded hashes), whatever the partitioning.
    sample = hashed(minority.orderBy("key").limit(_TREE_SAMPLE_ROWS)).toPandas()
    trees = GroupTrees.fit(
        sample[names].to_numpy(np.float64),
        sample["key"].to_numpy(np.int64),
        sample[buckets].to_numpy(np.int64),
        rows,
        plan.group_rows,
        seed,
    )
    groups = [f"_g{t}" for t in range(plan.tables)]
    schema = ", ".join(
        ["key long", *(f"{n} double" for n in names), *(f"{g} long" for g in groups)]
    )

    def assign(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            points = batch[names].to_numpy(np.float64)
            keys = batch["key"].to_numpy(np.int64)
            out = batch[["key", *names]].copy()
            for t, (bucket, group) in enumerate(zip(buckets, groups, strict=True)):
                out[group] = trees.groups(t, points, keys, batch[bucket].to_numpy(np.int64))
            yield out

    assigned = hashed(minority).mapInPandas(assign, schema)
    per_table = [
        F.struct(F.lit(t).alias("table"), F.col(g).alias("group")) for t, g in enumerate(groups)
    ]
    exploded = assigned.select("key", *names, F.explode(F.array(*per_table)).alias("m"))
    return exploded.select("key", *names, "m.table", "m.group")


def _bucket_number(hashed: Column) -> Column:
    """A BucketedRandomProjectionLSH hash (a one-value vector of a double) as a long. Values
    far from the origin against the bucket width, or at the float limit, hash beyond the
    range of a long or to an infinity: they are clamped (NaN to 0), so such rows share an
    end bucket, which the median cuts then split like any other."""
    value = vector_to_array(hashed)[0]
    clamped = F.least(F.greatest(value, F.lit(-_LARGEST_BUCKET)), F.lit(_LARGEST_BUCKET))
    return F.when(F.isnan(value), F.lit(0.0)).otherwise(clamped).cast("long")


@dataclass(frozen=True)
class GroupTrees:
    """Per table, the median cuts that split large LSH buckets into groups.

    A node is named by its bucket and its heap path (root 1, children ``2p`` and
    ``2p + 1``); ``nodes[t]`` are the sorted names of table t's cut nodes and
    ``thresholds[t]`` their cuts on ``directions[t][depth]``. A row above the cut goes to
    ``2p + 1``, below to ``2p``, and on it by bit ``depth`` of its key: so the groups are a
    function of the row alone, and identical rows are halved too.
    """

    directions: list[np.ndarray]
    nodes: list[np.ndarray]
    thresholds: list[np.ndarray]

    @classmethod
    def fit(
        cls,
        points: np.ndarray,
        keys: np.ndarray,
        buckets: np.ndarray,
        rows: int,
        group_rows: int,
        seed: int,
    ) -> GroupTrees:
        """Cut each bucket whose share of the sample stands for over ``group_rows`` of the
        class's ``rows`` rows at the sample's median, recursively."""
        scale = rows / max(len(points), 1)
        directions, nodes, thresholds = [], [], []
        for t in range(buckets.shape[1]):
            rng = np.random.default_rng([seed, 0x67726F7570, t])
            table_dirs = rng.standard_normal((_MAX_LEVELS, points.shape[1]))
            cuts: dict[int, float] = {}
            stack = []
            # Only buckets large enough to cut (a narrow bucket_length makes many small ones).
            values, counts = np.unique(buckets[:, t], return_counts=True)
            for bucket in values[counts * scale > group_rows]:
                stack.append((np.flatnonzero(buckets[:, t] == bucket), int(bucket), 1, 0))
            while stack:
                idx, bucket, path, depth = stack.pop()
                if len(idx) * scale <= group_rows or depth >= _MAX_LEVELS:
                    continue
                with np.errstate(over="ignore", invalid="ignore"):
                    projection = points[idx] @ table_dirs[depth]
                finite = projection[np.isfinite(projection)]
                cut = float(np.sort(finite)[(len(finite) - 1) // 2]) if len(finite) else 0.0
                cuts[_node_name(bucket, path)] = cut
                upper = _upper(projection, cut, keys[idx], depth)
                stack.append((idx[~upper], bucket, 2 * path, depth + 1))
                stack.append((idx[upper], bucket, 2 * path + 1, depth + 1))
            names = np.array(sorted(cuts), np.int64)
            directions.append(table_dirs)
            nodes.append(names)
            thresholds.append(np.array([cuts[int(n)] for n in names], np.float64))
        return cls(directions, nodes, thresholds)

    def groups(
        self, table: int, points: np.ndarray, keys: np.ndarray, buckets: np.ndarray
    ) -> np.ndarray:
        """Each row's group in ``table``: the name of the node it ends in."""
        nodes, thresholds = self.nodes[table], self.thresholds[table]
        path = np.ones(len(points), np.int64)
        name = _node_name(buckets, path)
        for depth in range(_MAX_LEVELS):
            if not len(nodes):
                break
            at = np.minimum(np.searchsorted(nodes, name), len(nodes) - 1)
            inside = nodes[at] == name
            if not inside.any():
                break
            with np.errstate(over="ignore", invalid="ignore"):
                projection = points[inside] @ self.directions[table][depth]
            upper = _upper(projection, thresholds[at[inside]], keys[inside], depth)
            path[inside] = 2 * path[inside] + upper
            name = _node_name(buckets, path)
        return name


def _node_name(bucket: Any, path: Any) -> Any:
    """A 64-bit name for (bucket, path), wrapping: a collision only merges two groups."""
    with np.errstate(over="ignore"):
        mixed = np.asarray(bucket, np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (mixed ^ np.asarray(path, np.int64).astype(np.uint64)).astype(np.int64)


def _upper(projection: np.ndarray, cut: Any, keys: np.ndarray, depth: int) -> np.ndarray:
    """Rows above the cut, and rows on it whose key has bit ``depth`` set."""
    on = projection == cut
    bit = ((keys >> np.int64(depth % 63)) & 1).astype(bool)
    return (projection > cut) | (on & bit)


def _balanced_sum(terms: list[Column]) -> Column:
    """The sum of ``terms`` as a tree of depth log2(n): a chain of n additions (hundreds of
    one-hot columns) overflows the JVM's stack when Spark compiles it."""
    if not terms:
        return F.lit(0.0)
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + terms[len(terms) - len(terms) % 2 :]
    return terms[0]


def leaves(
    points: np.ndarray, keys: np.ndarray, cap: int, directions: np.ndarray
) -> list[np.ndarray]:
    """Positions of the rows of each leaf: the rows are halved at the median of their
    projection on ``directions[depth]`` (ties by key) until a part holds at most ``cap``."""
    out = []
    stack = [(np.arange(len(points)), 0)]
    while stack:
        part, depth = stack.pop()
        if len(part) <= cap:
            out.append(part)
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            projection = points[part] @ directions[depth % len(directions)]
        order = part[np.lexsort((keys[part], projection))]
        half = len(part) // 2
        stack.append((order[half:], depth + 1))
        stack.append((order[:half], depth + 1))
    return out


def _leaf_search(
    names: list[str], k: int, plan: BucketPlan, seed: int
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A group's rows cut into leaves (see `leaves`), each searched exactly: one
    (key, neighbour, distance) row per pair found, and (key, key, 0) for a row alone."""

    def search(group: pd.DataFrame) -> pd.DataFrame:
        group = group.sort_values("key", kind="stable")
        keys = group["key"].to_numpy(np.int64)
        points = group[names].to_numpy(np.float64)
        table = int(group["table"].to_numpy()[0])
        directions = np.random.default_rng([seed, 0x6C656166, table]).standard_normal(
            (_MAX_DEPTH, len(names))
        )
        own, other, distance = [], [], []
        for leaf in leaves(points, keys, plan.max_bucket_size, directions):
            if len(leaf) == 1:
                own.append(keys[leaf])
                other.append(keys[leaf])
                distance.append(np.zeros(1))
                continue
            positions, distances = nearest_neighbours(points[leaf], keys[leaf], k)
            own.append(np.repeat(keys[leaf], positions.shape[1]))
            other.append(keys[leaf][positions].ravel())
            distance.append(distances.ravel())
        return pd.DataFrame(
            {
                "key": np.concatenate(own),
                "neighbour": np.concatenate(other),
                "distance": np.concatenate(distance),
            }
        )

    return search


def _merge_lists(k: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """Each key's k nearest distinct neighbours among all its tables' pairs, nearest first
    (ties by key). The partition holds every pair of its keys (partitioned by key)."""

    def merge(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        frames = [batch for batch in batches if len(batch)]
        if not frames:
            return
        pairs = pd.concat(frames, ignore_index=True)
        key = pairs["key"].to_numpy(np.int64)
        other = pairs["neighbour"].to_numpy(np.int64)
        distance = pairs["distance"].to_numpy(np.float64)
        # Distinct (key, neighbour) pairs: a pair found in several tables has one distance.
        order = np.lexsort((other, key))
        key, other, distance = key[order], other[order], distance[order]
        first = np.ones(len(key), bool)
        first[1:] = (key[1:] != key[:-1]) | (other[1:] != other[:-1])
        key, other, distance = key[first], other[first], distance[first]
        keys = key[np.r_[True, key[1:] != key[:-1]]]
        # Nearest first, ties by neighbour key; (key, key) only marks a row alone.
        real = other != key
        key, other, distance = key[real], other[real], distance[real]
        order = np.lexsort((other, distance, key))
        key, other, distance = key[order], other[order], distance[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.empty(0, int)
        rank = np.arange(len(key)) - np.repeat(starts, np.diff(np.r_[starts, len(key)]))
        kept = rank < k
        key, other, distance = key[kept], other[kept], distance[kept]
        ends = np.searchsorted(key, keys, side="right")
        begins = np.searchsorted(key, keys, side="left")
        for chunk in range(0, len(keys), _MERGE_ROWS_PER_BATCH):
            part = slice(chunk, chunk + _MERGE_ROWS_PER_BATCH)
            yield pd.DataFrame(
                {
                    "key": keys[part],
                    "neighbours": [
                        other[a:b] for a, b in zip(begins[part], ends[part], strict=True)
                    ],
                    "distances": [
                        distance[a:b] for a, b in zip(begins[part], ends[part], strict=True)
                    ],
                }
            )

    return merge


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
    # A power-of-two scale (exact) keeps the squares of values near the float limit finite,
    # as in nearest_neighbours.
    unit = _power_of_two_scale(np.vstack([sample, points]))
    scaled = sample / unit
    for point, key, own, own_dist in zip(
        points / unit, batch["key"], batch["neighbours"], batch["distances"], strict=True
    ):
        with np.errstate(over="ignore"):
            distances = np.sqrt(((scaled - point) ** 2).sum(axis=1)) * unit
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
