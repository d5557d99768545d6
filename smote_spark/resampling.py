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
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from smote_spark.encoding import (
    ClassEncoding,
    class_rows,
    code_names,
    decode,
    encode,
    fit_encoding,
    nominal_names,
    restore,
    synthetic_schema,
    value_names,
)
from smote_spark.errors import InputTypeError, InvalidParameterError
from smote_spark.exact import ClassArrays, collect_class, exact_neighbours, exact_synthetic
from smote_spark.faults import with_faults
from smote_spark.interpolation import (
    CHILDREN_PER_FRAME,
    child_slices,
    draw_children,
    interpolate,
    vote,
)
from smote_spark.keys import content_hash, row_key
from smote_spark.neighbours import (
    BucketPlan,
    fill_short_lists,
    lsh_candidates,
    plan_buckets,
)
from smote_spark.settings import SmoteSettings
from smote_spark.targets import ClassPlan, count_classes, plan_classes
from smote_spark.validation import (
    Feature,
    check_columns,
    check_enough_rows,
    check_label,
)

log = logging.getLogger(__name__)

BatchFunction = Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]

# The class matrix shipped to tasks in exact mode is refused past this many values.
_EXACT_MAX_VALUES = 20_000_000
# Rows of a class per partition once extracted: few partitions for a small class, as each
# costs a task in every later step (200 shuffle partitions for 4,000 rows cost seconds).
_CLASS_ROWS_PER_PARTITION = 250_000


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
    """Add SMOTE's synthetic rows to the classes of ``df`` that the settings name.

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
    Counting the classes, extracting and checking the rows of each class to oversample run
    eagerly; neighbours and interpolation run when the result is written. Each class is
    oversampled on its own: its neighbours, statistics and nominal values are its own. In
    LSH mode a class's rows stay cached until `SmoteResult.release`.

    Nominal features (strings, booleans, ``nominal_cols``) follow SMOTE-NC: a mismatch adds
    the square of the class's median numeric standard deviation to the squared distance,
    and a new row takes the value most of its base row's k neighbours have (ties by the
    seed). With every feature nominal, each mismatch counts 1 (see `smote_spark.encoding`).
    Integers, decimals, dates and timestamps are interpolated as doubles: exact up to 2**53
    and about 15 significant digits.

    References
    ----------
    N. V. Chawla, K. W. Bowyer, L. O. Hall and W. P. Kegelmeyer, "SMOTE: Synthetic
    Minority Over-sampling Technique", JAIR 16, 321-357, 2002.
    """
    _check_frame(df)
    settings = settings if settings is not None else SmoteSettings.build(**params)
    clock = _Clock()
    seed = settings.seed if settings.seed is not None else secrets.randbelow(2**63)

    counts, plans, features = _plan_run(df, settings)
    log.info(
        "SMOTE on %r: %s (k=%d, seed=%d, scaling %s); features %s",
        settings.label_col,
        ", ".join(
            f"class {p.minority_label!r} {p.minority_rows} rows +{p.synthetic_rows}" for p in plans
        ),
        settings.k,
        seed,
        settings.scaling,
        ", ".join(f"{f.name} ({f.kind})" for f in features),
    )
    clock.lap("count")

    parts: list[DataFrame] = []
    classes: dict[str, dict[str, Any]] = {}
    cached: list[DataFrame] = []
    for plan in plans:
        if plan.synthetic_rows == 0:
            continue
        part, facts = _oversample_class(df, plan, features, settings, seed, clock, cached)
        parts.append(part)
        classes[str(plan.minority_label)] = facts

    output = _union(df, parts, settings.synthetic_col)
    report = _report(settings, seed, counts, plans, clock.timings, classes)
    log.info("class counts before %s, after %s", report["counts_before"], report["counts_after"])
    return SmoteResult(output, report, cached)


def _check_frame(df: Any) -> None:
    # Spark 4's classic and Connect DataFrames both derive from pyspark.sql.DataFrame.
    if not isinstance(df, DataFrame):
        kind = f"{type(df).__module__}.{type(df).__qualname__}"
        raise InputTypeError(
            f"df: a Spark DataFrame is needed, got a {kind}; for pandas data, pass "
            "spark.createDataFrame(your_frame)."
        )


def _plan_run(
    df: DataFrame, settings: SmoteSettings
) -> tuple[dict[Any, int], list[ClassPlan], list[Feature]]:
    """Check the columns, count the classes (label column only) and plan each class."""
    check_label(df, settings)
    counts = count_classes(df, settings.label_col)
    plans = plan_classes(counts, settings)
    features = check_columns(df, settings)
    for plan in plans:
        if plan.synthetic_rows:
            check_enough_rows(plan.minority_rows, settings.k, plan.minority_label)
    return counts, plans, features


def _oversample_class(
    df: DataFrame,
    plan: ClassPlan,
    features: list[Feature],
    settings: SmoteSettings,
    seed: int,
    clock: _Clock,
    cached: list[DataFrame],
) -> tuple[DataFrame, dict[str, Any]]:
    """One class's synthetic rows, in the input's schema, and the facts for the report."""
    label = plan.minority_label
    collected = _collect_if_exact(df, plan, features, settings, seed)
    mode = "lsh" if collected is None else "exact"
    facts: dict[str, Any] = {
        "rows": plan.minority_rows,
        "synthetic_rows": plan.synthetic_rows,
        "neighbour_mode": mode,
        "fallback_rows": 0,
    }
    if collected is not None:
        data, encoding = collected
        _log_mode(label, mode, encoding)
        synthetic = exact_synthetic(
            df.sparkSession, data, encoding, plan, settings.k, seed, settings.driver_max_rows
        )
        clock.lap("extract")
        return _restore(synthetic, df, encoding, settings, label), facts
    rows = _extract(df, settings.label_col, label, features, seed, plan.minority_rows)
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(rows)
    encoding = fit_encoding(rows, features, settings.scaling, label)
    _log_mode(label, mode, encoding)
    clock.lap("extract")
    synthetic, lsh_facts = _lsh_synthetic(
        encode(rows, encoding), encoding, plan, settings, seed, clock, cached
    )
    facts.update(lsh_facts)
    return _restore(synthetic, df, encoding, settings, label), facts


def _collect_if_exact(
    df: DataFrame, plan: ClassPlan, features: list[Feature], settings: SmoteSettings, seed: int
) -> tuple[ClassArrays, ClassEncoding] | None:
    """The class collected for exact mode, or None where LSH mode is chosen.

    The number of features is a lower bound of the distance columns (nominal features
    widen it), so a class too big at that width is never collected; one that proves too
    wide once its nominal values are known goes to LSH mode (or is refused under 'exact').
    """
    if _choose_mode(settings, plan.minority_rows, len(features)) == "lsh":
        return None
    label = plan.minority_label
    collected = collect_class(df, settings.label_col, label, features, settings.scaling, seed)
    if _choose_mode(settings, plan.minority_rows, collected[1].width) == "lsh":
        return None
    return collected


def _log_mode(label: Any, mode: str, encoding: ClassEncoding) -> None:
    log.info(
        "class %r: neighbour mode %s, %d distance columns (%d nominal values, weight %.4g)",
        label,
        mode,
        encoding.width,
        encoding.width - len(encoding.numeric),
        encoding.weight,
    )


def _choose_mode(settings: SmoteSettings, rows: int, width: int) -> str:
    fits = rows * width <= _EXACT_MAX_VALUES
    if settings.neighbour_mode == "exact" and not fits:
        raise InvalidParameterError(
            f"neighbour_mode: 'exact' ships the whole class to every task, and this class "
            f"has {rows} rows x {width} distance columns = {rows * width} values, above the "
            f"limit of {_EXACT_MAX_VALUES}; use 'lsh' or 'auto'."
        )
    if settings.neighbour_mode != "auto":
        return settings.neighbour_mode
    return "exact" if rows <= settings.exact_max_rows and fits else "lsh"


def _extract(
    df: DataFrame, label_col: str, label: Any, features: list[Feature], seed: int, size: int
) -> DataFrame:
    """A class's ``size`` rows as ``key``, doubles ``_f...`` and nominal values ``_v...``.

    The key (see `smote_spark.keys`) depends on the row's content and the seed; identical
    rows are told apart by a number among themselves. The rows are shuffled once, by
    content hash, into partitions of about `_CLASS_ROWS_PER_PARTITION` rows, which the
    numbering and every later step reuse.
    """
    rows = class_rows(df, label_col, label, features)
    names = rows.columns
    content = rows.withColumn("_h", content_hash(seed, names))
    content = content.repartition(max(1, math.ceil(size / _CLASS_ROWS_PER_PARTITION)), "_h")
    copy_no = F.row_number().over(Window.partitionBy("_h").orderBy(*names))
    return content.select(row_key(F.col("_h"), copy_no).alias("key"), *names)


def minority_neighbours(
    df: DataFrame, settings: SmoteSettings | None = None, **params: Any
) -> DataFrame:
    """The neighbour list of every row of the class that `oversample` would oversample.

    A diagnostic: it shows which rows new points are drawn towards, in the chosen mode.
    With several classes to oversample, it shows the first in label order.

    Returns
    -------
    DataFrame
        ``key`` (the row's seeded key), the features under their input names (numeric ones
        as doubles: dates in days, timestamps in seconds), ``neighbours`` (keys of the k
        nearest rows, nearest first) and ``distances`` (their distances, in the distance
        space of `encoding`). A row is never its own neighbour; identical rows are
        distinct rows at distance 0.
    """
    _check_frame(df)
    settings = settings if settings is not None else SmoteSettings.build(**params)
    seed = settings.seed if settings.seed is not None else 0
    _, plans, features = _plan_run(df, settings)
    plan = next((p for p in plans if p.synthetic_rows), plans[0])
    check_enough_rows(plan.minority_rows, settings.k, plan.minority_label)
    rows = _extract(df, settings.label_col, plan.minority_label, features, seed, plan.minority_rows)
    collected = _collect_if_exact(df, plan, features, settings, seed)
    if collected is not None:
        data, encoding = collected
        found = exact_neighbours(df.sparkSession, data, settings.k)
    else:
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
        encoding = fit_encoding(rows, features, settings.scaling, plan.minority_label)
        buckets = _lsh_buckets(encoding, plan, settings)
        found, _ = _lsh_neighbours(
            encode(rows, encoding), plan.minority_rows, encoding.width, buckets, settings, seed, []
        )
    names = value_names(len(encoding.numeric)) + nominal_names(len(encoding.nominal))
    inputs = [f.name for f in encoding.numeric + encoding.nominal]
    renamed = [F.col(n).alias(name) for n, name in zip(names, inputs, strict=True)]
    return rows.join(found, "key").select("key", *renamed, "neighbours", "distances")


def _lsh_buckets(encoding: ClassEncoding, plan: ClassPlan, settings: SmoteSettings) -> BucketPlan:
    """Size a class's buckets from its spread in the distance space."""
    spread = encoding.spread
    if not math.isfinite(spread):
        # Values near the float limit: one bucket, cut at medians like any large one.
        spread = sys.float_info.max / 8
    buckets = plan_buckets(
        plan.minority_rows,
        encoding.width,
        spread,
        settings.num_hash_tables,
        settings.max_bucket_size,
        settings.bucket_length,
    )
    log.info("class %r: LSH buckets %s", plan.minority_label, buckets)
    return buckets


def _lsh_neighbours(
    encoded: DataFrame,
    rows: int,
    width: int,
    buckets: BucketPlan,
    settings: SmoteSettings,
    seed: int,
    cached: list[DataFrame],
) -> tuple[DataFrame, int]:
    """The k neighbours of each of the ``rows`` rows from the LSH buckets, short lists
    completed; and how many needed completing. The candidate lists are cached (and added
    to ``cached``): counting the short ones would otherwise search every bucket twice."""
    candidates = lsh_candidates(encoded, rows, width, settings.k, buckets, seed)
    candidates = candidates.persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(candidates)
    sample = max(settings.max_bucket_size, settings.k + 1)
    neighbours, fallback = fill_short_lists(candidates, encoded, width, settings.k, sample)
    if fallback:
        log.warning(
            "%d rows had fewer than k=%d LSH candidates; completed from a sample",
            fallback,
            settings.k,
        )
    return neighbours, fallback


def _lsh_synthetic(
    encoded: DataFrame,
    encoding: ClassEncoding,
    plan: ClassPlan,
    settings: SmoteSettings,
    seed: int,
    clock: _Clock,
    cached: list[DataFrame],
) -> tuple[DataFrame, dict[str, Any]]:
    doubles = value_names(len(encoding.numeric))
    codes = code_names(len(encoding.nominal))
    buckets = _lsh_buckets(encoding, plan, settings)
    neighbours, fallback = _lsh_neighbours(
        encoded, plan.minority_rows, encoding.width, buckets, settings, seed, cached
    )
    clock.lap("neighbours")

    threshold = _extra_threshold(encoded, plan)
    children = F.lit(plan.children_per_row)
    if threshold is not None:
        children = children + F.when(F.col("key") <= F.lit(threshold), 1).otherwise(0)
    lists = neighbours.select("key", "neighbours", children.alias("children"))
    if codes:
        lists = lists.join(_neighbour_codes(neighbours, encoded, codes), "key")
    schema = ", ".join(["key long", "neighbour long", "gap double", *(f"{c} int" for c in codes)])
    spark = encoded.sparkSession
    draws = lists.mapInPandas(with_faults(spark, "draw", _draw(seed, settings.k, codes)), schema)
    base = encoded.select("key", *doubles)
    other = encoded.select(
        F.col("key").alias("neighbour"), *(F.col(n).alias(f"_n{i}") for i, n in enumerate(doubles))
    )
    joined = draws.join(base, "key").join(other, "neighbour")
    interpolating = with_faults(spark, "interpolate", _interpolate_rows(doubles, codes))
    synthetic = joined.mapInPandas(interpolating, synthetic_schema(encoding))
    return synthetic, {"fallback_rows": fallback, "buckets": buckets.__dict__}


def _neighbour_codes(neighbours: DataFrame, encoded: DataFrame, codes: list[str]) -> DataFrame:
    """``key`` and ``codes``: the nominal codes of each row's neighbours, in list order."""
    listed = neighbours.select("key", F.posexplode("neighbours").alias("at", "neighbour"))
    coded = encoded.select(F.col("key").alias("neighbour"), F.array(*codes).alias("c"))
    pairs = listed.join(coded, "neighbour").groupBy("key")
    ordered = pairs.agg(F.array_sort(F.collect_list(F.struct("at", "c"))).alias("pairs"))
    return ordered.select("key", F.col("pairs.c").alias("codes"))


def _extra_threshold(encoded: DataFrame, plan: ClassPlan) -> int | None:
    if plan.extra_children == 0:
        return None
    row = (
        encoded.select("key")
        .orderBy("key")
        .limit(plan.extra_children)
        .agg(F.max("key").alias("last"))
        .first()
    )
    assert row is not None
    return int(row["last"])


def _draw(seed: int, k: int, codes: list[str]) -> BatchFunction:
    def draw(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            keys = batch["key"].to_numpy(np.int64)
            lists = batch["neighbours"].to_numpy()
            counts = np.array([len(x) for x in lists], np.int64)
            children = batch["children"].to_numpy(np.int64)
            listed = [np.stack(row) for row in batch["codes"]] if codes else []
            for rows, first, count in child_slices(children, CHILDREN_PER_FRAME):
                drawn = draw_children(seed, keys[rows], count, counts[rows], first)
                base = rows[drawn.base]
                chosen = np.array(
                    [lists[b][c] for b, c in zip(base, drawn.neighbour, strict=True)], np.int64
                )
                out = pd.DataFrame({"key": keys[base], "neighbour": chosen, "gap": drawn.gap})
                if codes:
                    own = np.array([listed[b] for b in base]).reshape(-1, k, len(codes))
                    voted = vote(drawn.stream, own)
                    for j, name in enumerate(codes):
                        out[name] = voted[:, j].astype(np.int32)
                yield out

    return draw


def _interpolate_rows(doubles: list[str], codes: list[str]) -> BatchFunction:
    others = [f"_n{i}" for i in range(len(doubles))]

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            new = interpolate(
                batch[doubles].to_numpy(np.float64),
                batch[others].to_numpy(np.float64),
                batch["gap"].to_numpy(np.float64),
            )
            frame = pd.DataFrame(new, columns=doubles)
            for name in codes:
                frame[name] = batch[name].to_numpy(np.int32)
            yield frame

    return run


def _restore(
    synthetic: DataFrame,
    df: DataFrame,
    encoding: ClassEncoding,
    settings: SmoteSettings,
    label: Any,
) -> DataFrame:
    """A class's synthetic rows in the input's schema: features back in their types, the
    label set, every other column null, and the flag column if asked for."""
    restored = {
        f.name: restore(f, F.col(n))
        for f, n in zip(encoding.numeric, value_names(len(encoding.numeric)), strict=True)
    }
    for j, (f, n) in enumerate(
        zip(encoding.nominal, code_names(len(encoding.nominal)), strict=True)
    ):
        restored[f.name] = decode(encoding, j, F.col(n))
    columns = []
    for field_ in df.schema.fields:
        if field_.name in restored:
            value = restored[field_.name]
        elif field_.name == settings.label_col:
            value = F.lit(label).cast(field_.dataType)
        else:
            value = F.lit(None).cast(field_.dataType)
        columns.append(value.alias(field_.name))
    if settings.synthetic_col is not None:
        columns.append(F.lit(True).alias(settings.synthetic_col))
    return synthetic.select(*columns)


def _union(df: DataFrame, parts: list[DataFrame], flag: str | None) -> DataFrame:
    """Input rows unchanged, then each class's synthetic rows."""
    output = df if flag is None else df.withColumn(flag, F.lit(False))
    for part in parts:
        output = output.unionByName(part)
    return output


def _report(
    settings: SmoteSettings,
    seed: int,
    counts: dict[Any, int],
    plans: list[ClassPlan],
    timings: dict[str, float],
    classes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    after = dict(counts)
    for plan in plans:
        after[plan.minority_label] += plan.synthetic_rows
    modes = sorted({facts["neighbour_mode"] for facts in classes.values()})
    report = {
        "minority_label": plans[0].minority_label,
        "counts_before": {str(label): n for label, n in counts.items()},
        "counts_after": {str(label): n for label, n in after.items()},
        "synthetic_rows": sum(plan.synthetic_rows for plan in plans),
        "seed": seed,
        "neighbour_mode": ",".join(modes) if modes else "none",
        "parameters": settings.model_dump() | {"seed": seed},
        "timings_s": dict(timings),
        "fallback_rows": sum(facts["fallback_rows"] for facts in classes.values()),
        "classes": classes,
    }
    buckets = [facts["buckets"] for facts in classes.values() if "buckets" in facts]
    if len(buckets) == 1:
        report["buckets"] = buckets[0]
    return report
