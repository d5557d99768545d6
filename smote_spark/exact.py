"""Exact mode: a bounded class collected once to the driver, its neighbours found in tasks.

The class is read in one scan (filter and project, no shuffle) and collected as Arrow.
Everything LSH mode computes with Spark jobs (keys, statistics, nominal values, codes) is
computed here from that one collection, so the eager part of exact mode is a single Spark
job. The base rows' exact neighbours and their children are then made on the driver (a
small class) or in tasks of `_ROWS_PER_TASK` base rows, to which the class's arrays are
shipped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from threadpoolctl import threadpool_limits

from smote_spark.encoding import (
    ClassEncoding,
    class_rows,
    code_names,
    encode_local,
    fit_local_encoding,
    synthetic_schema,
    value_names,
)
from smote_spark.faults import with_faults
from smote_spark.interpolation import (
    CHILDREN_PER_FRAME,
    child_slices,
    draw_children,
    interpolate,
    vote,
)
from smote_spark.keys import content_hash, row_keys
from smote_spark.neighbours import NEIGHBOURS_SCHEMA, nearest_neighbours
from smote_spark.targets import ClassPlan
from smote_spark.validation import Feature

# Base rows per task (or per driver thread); results do not depend on it.
_ROWS_PER_TASK = 2048


@dataclass(frozen=True)
class ClassArrays:
    """A whole (bounded) class on the driver, sorted by key: what exact mode ships."""

    keys: np.ndarray
    points: np.ndarray
    values: np.ndarray
    codes: np.ndarray


def collect_class(
    df: DataFrame,
    label_col: str,
    label: Any,
    features: list[Feature],
    scaling: str,
    seed: int,
) -> tuple[ClassArrays, ClassEncoding]:
    """A class's rows as arrays sorted by key, and its encoding, from one scan of ``df``.

    Raises
    ------
    InvalidDataError
        As `fit_encoding`: bad values, or too many nominal values.
    """
    rows = class_rows(df, label_col, label, features)
    rows = rows.withColumn("_h", content_hash(seed, rows.columns))
    frame = rows.toArrow().to_pandas()
    encoding = fit_local_encoding(frame, features, scaling, label)
    points, values, codes = encode_local(frame, encoding)
    keys = _number_copies(frame["_h"].to_numpy(np.int64), values, codes)
    order = np.argsort(keys, kind="stable")
    return ClassArrays(keys[order], points[order], values[order], codes[order]), encoding


def _number_copies(content: np.ndarray, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Keys: rows of equal content hash numbered 1, 2, ... in the order of their values,
    as LSH mode's window numbers them (see `smote_spark.keys`)."""
    columns = [*codes.T[::-1], *values.T[::-1], content]
    order = np.lexsort(columns) if len(content) else np.arange(0)
    ranked = content[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    sizes = np.diff(np.r_[starts, len(ranked)])
    copy = np.arange(len(ranked)) - np.repeat(starts, sizes) + 1
    keys = np.empty(len(content), np.int64)
    keys[order] = row_keys(ranked, copy)
    return keys


def children_per_row(plan: ClassPlan, keys: np.ndarray) -> np.ndarray:
    """``keys`` sorted ascending: the first ``extra_children`` rows get one more child."""
    children = np.full(len(keys), plan.children_per_row, np.int64)
    children[: plan.extra_children] += 1
    return children


def _driver_cores() -> int:
    if hasattr(os, "sched_getaffinity"):  # the cores this process may use (Linux)
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _task_count(data: ClassArrays) -> int:
    return math.ceil(len(data.keys) / _ROWS_PER_TASK)


def _tasks(spark: SparkSession, data: ClassArrays) -> DataFrame:
    tasks = _task_count(data)
    return spark.range(0, tasks, 1, tasks)


def _task_rows(task: int, n: int) -> np.ndarray:
    start = task * _ROWS_PER_TASK
    return np.arange(start, min(n, start + _ROWS_PER_TASK))


def _synthetic_frame(
    encoding: ClassEncoding, values: np.ndarray, codes: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame(values, columns=value_names(len(encoding.numeric)))
    for j, name in enumerate(code_names(len(encoding.nominal))):
        frame[name] = codes[:, j].astype(np.int32)
    return frame


def exact_synthetic(
    spark: SparkSession,
    data: ClassArrays,
    encoding: ClassEncoding,
    plan: ClassPlan,
    k: int,
    seed: int,
    driver_max_rows: int,
) -> DataFrame:
    """The class's synthetic rows (doubles and nominal codes).

    Up to ``driver_max_rows`` rows they are made on the driver, in threads, and handed to
    Spark as one Arrow table: a small class then needs no Python worker, whose start costs
    seconds. A larger class is shipped to tasks of `_ROWS_PER_TASK` base rows. Both give
    the same rows: each base row's neighbours are exact and its draws depend on its key.
    """
    children = children_per_row(plan, data.keys)
    schema = synthetic_schema(encoding)
    # The driver hands Spark its rows in one table: only for a modest number of them.
    if len(data.keys) <= driver_max_rows and children.sum() <= CHILDREN_PER_FRAME:
        chunks = [_task_rows(task, len(data.keys)) for task in range(_task_count(data))]
        workers = min(len(chunks), _driver_cores())
        # One BLAS thread per search thread: BLAS's own threads would compete with them.
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
            frames = [
                frame
                for made in pool.map(
                    lambda rows: list(_make_children(data, encoding, children, k, seed, rows)),
                    chunks,
                )
                for frame in made
            ]
        if not frames:  # no row makes a child
            empty = np.empty((0, len(encoding.numeric)))
            frames = [_synthetic_frame(encoding, empty, np.empty((0, len(encoding.nominal))))]
        table = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
        return spark.createDataFrame(table, schema)

    def generate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch["id"]:
                rows = _task_rows(int(task), len(data.keys))
                yield from _make_children(data, encoding, children, k, seed, rows)

    generating = with_faults(spark, "generate", generate)
    return _tasks(spark, data).mapInPandas(generating, schema)


def _make_children(
    data: ClassArrays,
    encoding: ClassEncoding,
    children: np.ndarray,
    k: int,
    seed: int,
    rows: np.ndarray,
) -> Iterator[pd.DataFrame]:
    """The children of ``rows``, in frames of at most `CHILDREN_PER_FRAME` rows."""
    rows = rows[children[rows] > 0]  # below P=100 some rows make no child: skip their search
    positions, _ = nearest_neighbours(data.points, data.keys, k, rows)
    counts = np.full(len(rows), positions.shape[1])
    for part, first, count in child_slices(children[rows], CHILDREN_PER_FRAME):
        drawn = draw_children(seed, data.keys[rows[part]], count, counts[part], first)
        base = part[drawn.base]
        lists = positions[base]
        new = interpolate(
            data.values[rows[base]],
            data.values[lists[np.arange(len(lists)), drawn.neighbour]],
            drawn.gap,
        )
        voted = vote(drawn.stream, data.codes[lists])
        yield _synthetic_frame(encoding, new, voted)


def exact_neighbours(spark: SparkSession, data: ClassArrays, k: int) -> DataFrame:
    """``key``, ``neighbours`` (keys) and ``distances`` of every row of the class."""

    def search(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch["id"]:
                rows = _task_rows(int(task), len(data.keys))
                positions, distances = nearest_neighbours(data.points, data.keys, k, rows)
                yield pd.DataFrame(
                    {
                        "key": data.keys[rows],
                        "neighbours": list(data.keys[positions]),
                        "distances": list(distances),
                    }
                )

    return _tasks(spark, data).mapInPandas(search, NEIGHBOURS_SCHEMA)
