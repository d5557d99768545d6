"""LSH mode on a large minority class: does it finish in the memory given, and how good
are its neighbours?

Usage (the JVM's memory is what spark-submit gives it)::

    spark-submit --master 'local[2]' --driver-memory 6g bench/lsh_scale.py TABLE \
        [--label label] [--sample 2000] [--seed 1] [--work DIR] [--json PATH]

TABLE is a parquet table from ``bench/generate.py`` (for a 2,000,000-row class:
``--rows 5000000 --minority-share 0.4``). In one session:

1. ``minority_neighbours`` in LSH mode at the library defaults, its lists written to
   parquet under ``--work`` (the whole neighbour search, timed);
2. ``oversample`` in LSH mode at percentage 100, written to parquet (the whole job, timed);
3. for ``--sample`` rows drawn by key, their exact k nearest among the whole class
   (`smote_spark.neighbours.nearest_neighbours` on the collected class), and the same
   recall@k (tie-aware) and distance ratio as ``bench/neighbour_recall.py``.

The JVM's peak resident memory (VmHWM of the spark-submit JVM, the Python driver's
parent) is printed with the figures and saved as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from smote_spark.neighbours import nearest_neighbours
from smote_spark.resampling import minority_neighbours, oversample


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table")
    parser.add_argument("--label", default="label")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/smote_lsh_scale"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tables", type=int, help="num_hash_tables (default: the library's)")
    parser.add_argument("--bucket-size", type=int, help="max_bucket_size (default: the library's)")
    parser.add_argument("--no-job", action="store_true", help="time the search only")
    args = parser.parse_args()

    spark = SparkSession.builder.appName("smote-lsh-scale").getOrCreate()
    shutil.rmtree(args.work, ignore_errors=True)
    df = spark.read.parquet(args.table)
    features = [c for c in df.columns if c != args.label]
    params: dict[str, object] = dict(
        label_col=args.label, seed=args.seed, k=args.k, neighbour_mode="lsh"
    )
    if args.tables:
        params["num_hash_tables"] = args.tables
    if args.bucket_size:
        params["max_bucket_size"] = args.bucket_size
    facts: dict[str, object] = {"table": args.table, "spark_conf_driver_memory": None}
    facts["spark_conf_driver_memory"] = spark.conf.get("spark.driver.memory", None)

    start = time.perf_counter()
    lists = args.work / "lists"
    minority_neighbours(df, **params).write.parquet(str(lists))
    facts["search_s"] = round(time.perf_counter() - start, 1)

    facts["params"] = {k: v for k, v in params.items() if k != "label_col"}
    if not args.no_job:
        start = time.perf_counter()
        result = oversample(df, percentage=100, **params)
        result.dataframe.write.parquet(str(args.work / "out"))
        result.release()
        facts["job_s"] = round(time.perf_counter() - start, 1)
        facts["report"] = {
            key: result.report[key]
            for key in ("counts_before", "counts_after", "fallback_rows", "timings_s", "buckets")
            if key in result.report
        }

    found = spark.read.parquet(str(lists))
    rows = found.count()
    # Exact reference for a sample: the whole class on the driver (rows x features doubles).
    table = found.select("key", *features).toArrow()
    keys = table.column("key").to_numpy()
    order = np.argsort(keys)
    keys = keys[order]
    points = np.column_stack([table.column(f).to_numpy() for f in features])[order]
    rng = np.random.default_rng(args.seed)
    queries = np.sort(rng.choice(len(keys), size=min(args.sample, len(keys)), replace=False))
    start = time.perf_counter()
    _, exact = nearest_neighbours(points, keys, args.k, queries)
    facts["exact_sample_s"] = round(time.perf_counter() - start, 1)

    chosen = (
        found.filter(F.col("key").isin([int(k) for k in keys[queries]]))
        .select("key", "neighbours")
        .toPandas()
        .set_index("key")
        .loc[keys[queries]]
    )
    position = {int(k): i for i, k in enumerate(keys)}
    hits, chosen_total = 0, 0.0
    for i, (query, neighbours) in enumerate(zip(queries, chosen["neighbours"], strict=True)):
        others = points[[position[int(n)] for n in neighbours]]
        distances = np.sqrt(((others - points[query]) ** 2).sum(axis=1))
        hits += int((distances <= exact[i, -1] * (1 + 1e-9)).sum())
        chosen_total += float(distances.sum())
    facts.update(
        class_rows=rows,
        sample=len(queries),
        recall_at_k=round(hits / (args.k * len(queries)), 4),
        distance_ratio=round(chosen_total / float(exact.sum()), 4),
        jvm_peak_rss_mb=round(_peak_rss_mb(os.getppid())),
        python_driver_peak_rss_mb=round(_peak_rss_mb(os.getpid())),
    )
    print("LSH_SCALE " + json.dumps(facts), flush=True)
    if args.json:
        args.json.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(args.work, ignore_errors=True)
    spark.stop()


if __name__ == "__main__":
    main()
