"""Exact mode: a bounded class collected once to the driver, its neighbours found in tasks.

The class is read in one scan (filter and project, no shuffle) and collected as Arrow.
Everything LSH mode computes with Spark jobs (keys, statistics, nominal values, codes) is
computed here from that one collection, so the eager part of exact mode is a single Spark
job. The class's arrays are then shipped to tasks of `_ROWS_PER_TASK` base rows each, which
find the base rows' exact neighbours and make their children.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smote_spark.encoding import (
    ClassEncoding,
    as_double,
    code_names,
    encode_local,
    fit_local_encoding,
    nominal_names,
    synthetic_schema,
    value_names,
)
from smote_spark.faults import with_faults
from smote_spark.interpolation import draw_children, interpolate, vote
from smote_spark.keys import content_hash, row_keys
from smote_spark.neighbours import NEIGHBOURS_SCHEMA, nearest_neighbours
from smote_spark.targets import ClassPlan
from smote_spark.validation import Feature, column

# Base rows handled by one task; fixed so that results do not depend on the tasks.
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
    numeric = [f for f in features if not f.is_nominal]
    nominal = [f for f in features if f.is_nominal]
    doubles, raw = value_names(len(numeric)), nominal_names(len(nominal))
    rows = df.filter(column(label_col) == F.lit(label)).select(
        *(as_double(f).alias(n) for f, n in zip(numeric, doubles, strict=True)),
        *(column(f.name).alias(n) for f, n in zip(nominal, raw, strict=True)),
    )
    rows = rows.withColumn("_h", content_hash(seed, doubles + raw))
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


def _tasks(spark: SparkSession, n: int) -> DataFrame:
    tasks = math.ceil(n / _ROWS_PER_TASK)
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
) -> DataFrame:
    """The class's synthetic rows (doubles and nominal codes), made in tasks."""
    children = children_per_row(plan, data.keys)

    def generate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for task in batch["id"]:
                rows = _task_rows(int(task), len(data.keys))
                positions, _ = nearest_neighbours(data.points, data.keys, k, rows)
                counts = np.full(len(rows), positions.shape[1])
                drawn = draw_children(seed, data.keys[rows], children[rows], counts)
                lists = positions[drawn.base]
                new = interpolate(
                    data.values[rows[drawn.base]],
                    data.values[lists[np.arange(len(lists)), drawn.neighbour]],
                    drawn.gap,
                )
                voted = vote(drawn.stream, data.codes[lists])
                yield _synthetic_frame(encoding, new, voted)

    generating = with_faults(spark, "generate", generate)
    return _tasks(spark, len(data.keys)).mapInPandas(generating, synthetic_schema(encoding))


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

    return _tasks(spark, len(data.keys)).mapInPandas(search, NEIGHBOURS_SCHEMA)
