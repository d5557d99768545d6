"""SMOTE on a DataFrame: count, extract, find neighbours, interpolate, union."""

from __future__ import annotations

import logging
import math
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from smote_spark.errors import InvalidParameterError
from smote_spark.interpolation import draw_children, interpolate
from smote_spark.neighbours import (
    NEIGHBOURS_SCHEMA,
    BucketPlan,
    feature_names,
    fill_short_lists,
    lsh_candidates,
    nearest_neighbours,
    plan_buckets,
)
from smote_spark.settings import SmoteSettings
from smote_spark.targets import ClassPlan, count_classes, plan_minority
from smote_spark.validation import (
    Feature,
    check_bad_values,
    check_columns,
    check_enough_rows,
    check_label,
    column,
)

log = logging.getLogger(__name__)

BatchFunction = Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]

# Base rows handled by one task in exact mode; fixed so results do not depend on tasks.
_EXACT_ROWS_PER_TASK = 2048
# The class matrix shipped to tasks in exact mode is refused past this many values.
_EXACT_MAX_VALUES = 20_000_000


@dataclass
class SmoteResult:
    """What `oversample` returns.

    Attributes
    ----------
    dataframe : DataFrame
        Every input row unchanged, then the synthetic rows; lazy.
    report : dict
        JSON-ready facts of the run: counts per class before and after, the seed, the
        neighbour mode, the parameters and the time of each eager step.
    """

    dataframe: DataFrame
    report: dict[str, Any]
    _cached: list[DataFrame] = field(default_factory=list, repr=False)

    def release(self) -> None:
        """Unpersist what the run cached; call it after the result has been written."""
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()


class _Clock:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.timings[step] = round(now - self._start, 3)
        log.info("step %s took %.2f s", step, now - self._start)
        self._start = now


def oversample(df: DataFrame, settings: SmoteSettings | None = None, **params: Any) -> SmoteResult:
    """Add SMOTE's synthetic rows for the minority class of ``df``.

    Parameters
    ----------
    df : DataFrame
        The input table.
    settings : SmoteSettings, optional
        All parameters; or give them as keyword arguments (``label_col="y", k=5``).

    Returns
    -------
    SmoteResult
        The output DataFrame (input rows, then synthetic rows) and the run report.

    Raises
    ------
    SmoteError
        Before any output exists, for a bad parameter, column, type or minority value.

    Notes
    -----
    Counting the classes and checking the minority rows run eagerly; neighbours and
    interpolation run when the result is written. In LSH mode the minority rows are
    cached until `SmoteResult.release`.

    References
    ----------
    N. V. Chawla, K. W. Bowyer, L. O. Hall and W. P. Kegelmeyer, "SMOTE: Synthetic
    Minority Over-sampling Technique", JAIR 16, 321-357, 2002.
    """
    settings = settings if settings is not None else SmoteSettings.build(**params)
    clock = _Clock()
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**63)

    counts, plan, features, mode = _plan_run(df, settings, settings.percentage)
    log.info(
        "SMOTE on %r: class %r, %d rows -> %d synthetic (percentage %s, k=%d, seed=%d, "
        "neighbour mode %s)",
        settings.label_col,
        plan.minority_label,
        plan.minority_rows,
        plan.synthetic_rows,
        settings.percentage,
        settings.k,
        seed,
        mode,
    )
    clock.lap("count")

    minority = _keyed_minority(df, settings.label_col, plan.minority_label, features, seed)
    report_extra: dict[str, Any] = {}
    cached: list[DataFrame] = []
    if plan.synthetic_rows == 0:
        synthetic = None
    elif mode == "exact":
        synthetic = _exact_synthetic(df.sparkSession, minority, features, plan, settings.k, seed)
        clock.lap("extract")
    else:
        minority = minority.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(minority)
        synthetic, report_extra = _lsh_synthetic(minority, features, plan, settings, seed, clock)

    output = _union(df, synthetic, features, settings, plan.minority_label)
    report = _report(settings, seed, mode, counts, plan, clock.timings, report_extra)
    log.info("class counts before %s, after %s", report["counts_before"], report["counts_after"])
    return SmoteResult(output, report, cached)


def _plan_run(
    df: DataFrame, settings: SmoteSettings, percentage: float
) -> tuple[dict[Any, int], ClassPlan, list[Feature], str]:
    """Check the columns, count the classes (label column only) and choose the mode."""
    check_label(df, settings)
    counts = count_classes(df, settings.label_col)
    plan = plan_minority(counts, settings.label_col, percentage, settings.minority_label)
    features = check_columns(df, settings)
    check_enough_rows(plan.minority_rows, settings.k, plan.minority_label)
    return counts, plan, features, _choose_mode(settings, plan.minority_rows, len(features))


def _choose_mode(settings: SmoteSettings, rows: int, d: int) -> str:
    fits = rows * d <= _EXACT_MAX_VALUES
    if settings.neighbour_mode == "exact" and not fits:
        raise InvalidParameterError(
            f"neighbour_mode: 'exact' ships the whole class to every task, and this class "
            f"has {rows} rows x {d} features = {rows * d} values, above the limit of "
            f"{_EXACT_MAX_VALUES}; use 'lsh' or 'auto'."
        )
    if settings.neighbour_mode != "auto":
        return settings.neighbour_mode
    return "exact" if rows <= settings.exact_max_rows and fits else "lsh"


def _keyed_minority(
    df: DataFrame, label_col: str, label: Any, features: list[Feature], seed: int
) -> DataFrame:
    """Minority rows as ``key`` plus doubles ``_f0...``; the key depends on content and seed.

    Identical rows hash alike and are told apart by their rank among themselves, which is
    safe because identical rows are interchangeable.
    """
    names = feature_names(len(features))
    rows = df.filter(column(label_col) == F.lit(label)).select(
        *(column(f.name).cast("double").alias(n) for f, n in zip(features, names, strict=True))
    )
    content = rows.withColumn("_h", F.xxhash64(F.lit(seed), *names))
    copy_no = F.row_number().over(Window.partitionBy("_h").orderBy(*names))
    return content.select(F.xxhash64("_h", copy_no).alias("key"), *names)


def _children_per_row(plan: ClassPlan, keys: np.ndarray) -> np.ndarray:
    """``keys`` sorted ascending: the first ``extra_children`` rows get one more child."""
    children = np.full(len(keys), plan.children_per_row, np.int64)
    children[: plan.extra_children] += 1
    return children


def _collect_class(
    minority: DataFrame, features: list[Feature], plan: ClassPlan
) -> tuple[np.ndarray, np.ndarray]:
    """The class as (keys ascending, points): the bounded matrix exact mode ships to tasks."""
    names = feature_names(len(features))
    table = minority.toPandas().sort_values("key", kind="stable")
    points = table[names].to_numpy(np.float64)
    check_bad_values(_bad_counts(points, features), plan.minority_label)
    return table["key"].to_numpy(np.int64), points


def _exact_tasks(spark: SparkSession, n: int) -> DataFrame:
    tasks = math.ceil(n / _EXACT_ROWS_PER_TASK)
    return spark.range(0, tasks, 1, tasks)


def _task_rows(task: int, n: int) -> np.ndarray:
    start = task * _EXACT_ROWS_PER_TASK
    return np.arange(start, min(n, start + _EXACT_ROWS_PER_TASK))


def _exact_synthetic(
    spark: SparkSession,
    minority: DataFrame,
    features: list[Feature],
    plan: ClassPlan,
    k: int,
    seed: int,
) -> DataFrame:
    """Collect the (bounded) class matrix and make the synthetic rows in tasks."""
    names = feature_names(len(features))
    keys, points = _collect_class(minority, features, plan)
    children = _children_per_row(plan, keys)

    def generate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch["id"]:
                rows = _task_rows(int(task), len(keys))
                positions, _ = nearest_neighbours(points, keys, k, rows)
                counts = np.full(len(rows), positions.shape[1])
                base, choice, gap = draw_children(seed, keys[rows], children[rows], counts)
                new = interpolate(points[rows][base], points[positions[base, choice]], gap)
                yield pd.DataFrame(new, columns=names)

    schema = ", ".join(f"{n} double" for n in names)
    return _exact_tasks(spark, len(keys)).mapInPandas(generate, schema)


def _exact_neighbours(
    spark: SparkSession, keys: np.ndarray, points: np.ndarray, k: int
) -> DataFrame:
    def search(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch["id"]:
                rows = _task_rows(int(task), len(keys))
                positions, distances = nearest_neighbours(points, keys, k, rows)
                yield pd.DataFrame(
                    {
                        "key": keys[rows],
                        "neighbours": list(keys[positions]),
                        "distances": list(distances),
                    }
                )

    return _exact_tasks(spark, len(keys)).mapInPandas(search, NEIGHBOURS_SCHEMA)


def minority_neighbours(
    df: DataFrame, settings: SmoteSettings | None = None, **params: Any
) -> DataFrame:
    """The neighbour list of every row of the class that `oversample` would oversample.

    A diagnostic: it shows which rows new points are drawn towards, in the chosen mode.

    Returns
    -------
    DataFrame
        ``key`` (the row's seeded key), the feature columns as doubles (input names),
        ``neighbours`` (keys of the k nearest rows, nearest first) and ``distances``
        (their Euclidean distances). A row is never its own neighbour; identical rows
        are distinct rows at distance 0.
    """
    settings = settings if settings is not None else SmoteSettings.build(**params)
    seed = settings.seed if settings.seed is not None else 0
    _, plan, features, mode = _plan_run(df, settings, 100.0)
    minority = _keyed_minority(df, settings.label_col, plan.minority_label, features, seed)
    if mode == "exact":
        keys, points = _collect_class(minority, features, plan)
        found = _exact_neighbours(df.sparkSession, keys, points, settings.k)
    else:
        minority = minority.persist(StorageLevel.MEMORY_AND_DISK)
        buckets = _lsh_buckets(minority, features, plan, settings)
        found, _ = _lsh_neighbours(minority, len(features), buckets, settings, seed)
    names = feature_names(len(features))
    renamed = [F.col(n).alias(f.name) for n, f in zip(names, features, strict=True)]
    return minority.join(found, "key").select("key", *renamed, "neighbours", "distances")


def _bad_counts(points: np.ndarray, features: list[Feature]) -> dict[str, int]:
    bad = (~np.isfinite(points)).sum(axis=0)
    return {f.name: int(n) for f, n in zip(features, bad, strict=True)}


def _lsh_buckets(
    minority: DataFrame, features: list[Feature], plan: ClassPlan, settings: SmoteSettings
) -> BucketPlan:
    """Check the class's values and size its buckets, in one pass over the cached class.

    The bucket width follows the class's spread: sqrt of its mean feature variance.
    """
    names = feature_names(len(features))
    stats = minority.agg(
        *(_bad(n).alias(f"bad{n}") for n in names),
        *(F.var_pop(n).alias(f"var{n}") for n in names),
    ).first()
    assert stats is not None
    bad = {f.name: int(stats[f"bad{n}"]) for f, n in zip(features, names, strict=True)}
    check_bad_values(bad, plan.minority_label)
    spread = math.sqrt(sum(float(stats[f"var{n}"] or 0.0) for n in names) / len(names))
    if not math.isfinite(spread):
        # Values near the float limit: one slab, cut into chunks along a second direction.
        spread = sys.float_info.max / 8
    buckets = plan_buckets(
        plan.minority_rows,
        spread,
        settings.num_hash_tables,
        settings.max_bucket_size,
        settings.bucket_length,
    )
    log.info("LSH buckets: %s", buckets)
    return buckets


def _lsh_neighbours(
    minority: DataFrame, d: int, buckets: BucketPlan, settings: SmoteSettings, seed: int
) -> tuple[DataFrame, int]:
    """Every row's k neighbours from the LSH buckets, short lists completed; and how many."""
    candidates = lsh_candidates(minority, d, settings.k, buckets, seed)
    sample = max(settings.max_bucket_size, settings.k + 1)
    neighbours, fallback = fill_short_lists(candidates, minority, d, settings.k, sample)
    if fallback:
        log.warning(
            "%d rows had fewer than k=%d LSH candidates; completed from a sample",
            fallback,
            settings.k,
        )
    return neighbours, fallback


def _lsh_synthetic(
    minority: DataFrame,
    features: list[Feature],
    plan: ClassPlan,
    settings: SmoteSettings,
    seed: int,
    clock: _Clock,
) -> tuple[DataFrame, dict[str, Any]]:
    names = feature_names(len(features))
    buckets = _lsh_buckets(minority, features, plan, settings)
    clock.lap("extract")

    neighbours, fallback = _lsh_neighbours(minority, len(features), buckets, settings, seed)
    clock.lap("neighbours")

    threshold = _extra_threshold(minority, plan)
    children = F.lit(plan.children_per_row)
    if threshold is not None:
        children = children + F.when(F.col("key") <= F.lit(threshold), 1).otherwise(0)
    draws = neighbours.select("key", "neighbours", children.alias("children")).mapInPandas(
        _draw(seed), "key long, neighbour long, gap double"
    )
    other = minority.select(
        F.col("key").alias("neighbour"), *(F.col(n).alias(f"_n{i}") for i, n in enumerate(names))
    )
    joined = draws.join(minority, "key").join(other, "neighbour")
    synthetic = joined.mapInPandas(
        _interpolate_rows(names), ", ".join(f"{n} double" for n in names)
    )
    info = {"fallback_rows": fallback, "buckets": buckets.__dict__}
    return synthetic, info


def _bad(name: str) -> Column:
    col = F.col(name)
    bad = col.isNull() | F.isnan(col) | (F.abs(col) == F.lit(float("inf")))
    return F.sum(F.when(bad, 1).otherwise(0))


def _extra_threshold(minority: DataFrame, plan: ClassPlan) -> int | None:
    if plan.extra_children == 0:
        return None
    row = (
        minority.select("key")
        .orderBy("key")
        .limit(plan.extra_children)
        .agg(F.max("key").alias("last"))
        .first()
    )
    assert row is not None
    return int(row["last"])


def _draw(seed: int) -> BatchFunction:
    def draw(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            keys = batch["key"].to_numpy(np.int64)
            lists = batch["neighbours"].to_numpy()
            counts = np.array([len(x) for x in lists], np.int64)
            base, choice, gap = draw_children(
                seed, keys, batch["children"].to_numpy(np.int64), counts
            )
            chosen = np.array([lists[b][c] for b, c in zip(base, choice, strict=True)], np.int64)
            yield pd.DataFrame({"key": keys[base], "neighbour": chosen, "gap": gap})

    return draw


def _interpolate_rows(names: list[str]) -> BatchFunction:
    others = [f"_n{i}" for i in range(len(names))]

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            new = interpolate(
                batch[names].to_numpy(np.float64),
                batch[others].to_numpy(np.float64),
                batch["gap"].to_numpy(np.float64),
            )
            yield pd.DataFrame(new, columns=names)

    return run


def _union(
    df: DataFrame,
    synthetic: DataFrame | None,
    features: list[Feature],
    settings: SmoteSettings,
    label: Any,
) -> DataFrame:
    """Input rows unchanged, then synthetic rows in the input's schema."""
    flag = settings.synthetic_col
    original = df if flag is None else df.withColumn(flag, F.lit(False))
    if synthetic is None:
        return original
    by_name = dict(zip((f.name for f in features), feature_names(len(features)), strict=True))
    types = {field.name: field.dataType for field in df.schema.fields}
    columns = []
    for name in df.columns:
        if name in by_name:
            feature = next(f for f in features if f.name == name)
            value = F.col(by_name[name])
            value = F.round(value) if feature.is_integral else value
            columns.append(value.cast(feature.dtype).alias(name))
        elif name == settings.label_col:
            columns.append(F.lit(label).cast(types[name]).alias(name))
        else:
            columns.append(F.lit(None).cast(types[name]).alias(name))
    if flag is not None:
        columns.append(F.lit(True).alias(flag))
    return original.unionByName(synthetic.select(*columns))


def _report(
    settings: SmoteSettings,
    seed: int,
    mode: str,
    counts: dict[Any, int],
    plan: ClassPlan,
    timings: dict[str, float],
    extra: dict[str, Any],
) -> dict[str, Any]:
    after = dict(counts)
    after[plan.minority_label] += plan.synthetic_rows
    return {
        "minority_label": plan.minority_label,
        "counts_before": {str(label): n for label, n in counts.items()},
        "counts_after": {str(label): n for label, n in after.items()},
        "synthetic_rows": plan.synthetic_rows,
        "seed": seed,
        "neighbour_mode": mode,
        "parameters": settings.model_dump() | {"seed": seed},
        "timings_s": dict(timings),
        "fallback_rows": extra.get("fallback_rows", 0),
        **({"buckets": extra["buckets"]} if "buckets" in extra else {}),
    }
