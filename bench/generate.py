"""Write a synthetic two-class parquet table of a given shape, for the speed benchmark.

Usage::

    python bench/generate.py OUTPUT --rows 2000000 --features 20 --minority-share 0.02
        [--seed 7] [--nominal 0] [--clusters 4] [--skew none|identical|cluster90]
        [--partitions N] [--master 'local[2]']

Columns: ``label`` (int: 0 majority, 1 minority), ``f0``..``f{F-1}`` (doubles) and, with
``--nominal N``, ``n0``..``n{N-1}`` (strings with ``--nominal-values`` distinct values).

The table is made by Spark itself from ``spark.range`` and seeded hash expressions, so no
row sits in driver memory and every value depends only on the seed and the row id: the
same seed gives the same table whatever ``--partitions`` is.

* Minority rows are the ids with ``(id * a) mod rows < m``, ``a`` a prime coprime with
  ``rows``: exactly ``m = round(rows * share)`` rows, spread over the whole table.
* Majority features are standard normal; minority rows are drawn around ``--clusters``
  seeded centres (standard deviation 0.5).
* ``--skew identical``: every minority row is the same point. ``--skew cluster90``: 90% of
  the minority rows sit in one tight cluster (standard deviation 1e-3), the rest as above.

The table is written to a hidden sibling and renamed into place, with ``OUTPUT.meta.json``
(the shape and the class counts), so a cached table is never a partial one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Uniforms are made from the low 52 bits of a 64-bit hash.
_BITS = 2**52
_SKEWS = ("none", "identical", "cluster90")


@dataclass(frozen=True)
class TableShape:
    """What `generate` writes; also the key of a cached table."""

    rows: int
    features: int
    minority_share: float
    seed: int = 7
    nominal: int = 0
    nominal_values: int = 4
    clusters: int = 4
    skew: str = "none"

    @property
    def minority_rows(self) -> int:
        return max(1, math.floor(self.rows * self.minority_share + 0.5))

    def file_name(self) -> str:
        """A name that identifies the table (partitions do not change its content)."""
        share = f"{self.minority_share:.6g}"
        name = f"r{self.rows}_f{self.features}_m{share}_s{self.seed}_c{self.clusters}"
        if self.nominal:
            name += f"_n{self.nominal}x{self.nominal_values}"
        if self.skew != "none":
            name += f"_{self.skew}"
        return name + ".parquet"


def default_partitions(rows: int) -> int:
    """About 250,000 rows per file, at least 2."""
    return max(2, math.ceil(rows / 250_000))


def generate(spark: Any, shape: TableShape, path: str, partitions: int | None = None) -> dict:
    """Write ``shape`` as parquet to ``path`` (atomically) and return its metadata."""
    from pyspark.sql import functions as F

    if shape.skew not in _SKEWS:
        raise ValueError(f"skew: one of {_SKEWS}, got {shape.skew!r}")
    if not 0.0 < shape.minority_share < 0.5:
        raise ValueError(f"minority_share: in (0, 0.5), got {shape.minority_share}")
    partitions = partitions or default_partitions(shape.rows)
    rng = np.random.default_rng([shape.seed, 0x5B])
    centres = rng.normal(0.0, 1.5, size=(shape.clusters, shape.features))
    step = _coprime_step(shape.rows)

    ids = spark.range(0, shape.rows, 1, partitions)
    row = F.col("id")

    def uniform(*salt: int) -> Any:
        hashed = F.xxhash64(F.lit(shape.seed), *(F.lit(s) for s in salt), row)
        return (F.pmod(hashed, F.lit(_BITS)) + 0.5) / F.lit(float(_BITS))

    def normal(j: int) -> Any:
        # Box-Muller from two independent uniforms of this row and feature.
        radius = F.sqrt(-2.0 * F.log(uniform(j, 0)))
        return radius * F.cos(2.0 * math.pi * uniform(j, 1))

    minority = F.pmod(row * F.lit(step), F.lit(shape.rows)) < F.lit(shape.minority_rows)
    cluster = F.floor(uniform(-1, 0) * shape.clusters).cast("int") + 1
    tight = uniform(-2, 0) < 0.9
    columns = [F.when(minority, 1).otherwise(0).alias("label")]
    for j in range(shape.features):
        centre = F.element_at(F.array(*(F.lit(float(c)) for c in centres[:, j])), cluster)
        spread = centre + 0.5 * normal(j)
        if shape.skew == "identical":
            value = F.lit(float(centres[0, j]))
        elif shape.skew == "cluster90":
            value = F.when(tight, float(centres[0, j]) + 1e-3 * normal(j)).otherwise(spread)
        else:
            value = spread
        columns.append(F.when(minority, value).otherwise(normal(j)).alias(f"f{j}"))
    letters = [chr(ord("a") + i) for i in range(shape.nominal_values)]
    for j in range(shape.nominal):
        # Squared uniform: the first values are more frequent, as in real nominal columns.
        index = F.floor(uniform(-3, j) ** 2 * shape.nominal_values).cast("int") + 1
        columns.append(F.element_at(F.array(*map(F.lit, letters)), index).alias(f"n{j}"))

    started = time.perf_counter()
    temporary = _sibling(path, "tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    ids.select(*columns).write.mode("overwrite").parquet(temporary)
    if os.path.exists(path):
        shutil.rmtree(path)
    os.replace(temporary, path)
    meta = {
        "shape": asdict(shape),
        "rows": shape.rows,
        "minority_rows": shape.minority_rows,
        "majority_rows": shape.rows - shape.minority_rows,
        "feature_cols": [f"f{j}" for j in range(shape.features)],
        "nominal_cols": [f"n{j}" for j in range(shape.nominal)],
        "partitions": partitions,
        "seconds": round(time.perf_counter() - started, 1),
    }
    with open(path + ".meta.json", "w", encoding="utf-8") as out:
        json.dump(meta, out, indent=2)
    return meta


def cached_meta(path: str) -> dict | None:
    """The metadata of a complete table at ``path``, or None if there is none."""
    try:
        with open(path + ".meta.json", encoding="utf-8") as meta:
            loaded: dict = json.load(meta)
    except (OSError, ValueError):
        return None
    return loaded if os.path.isdir(path) else None


def _coprime_step(rows: int) -> int:
    # A prime near 1e6: id * step stays far below 2^63 for any table up to ~1e12 rows.
    step = 1_000_003
    while math.gcd(step, rows) != 1:
        step += 2
    return step


def _sibling(path: str, tag: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{tag}-{os.getpid()}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="parquet directory to write")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--minority-share", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nominal", type=int, default=0, help="string columns")
    parser.add_argument("--nominal-values", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=4, help="minority clusters")
    parser.add_argument("--skew", choices=_SKEWS, default="none")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    shape = TableShape(
        rows=args.rows,
        features=args.features,
        minority_share=args.minority_share,
        seed=args.seed,
        nominal=args.nominal,
        nominal_values=args.nominal_values,
        clusters=args.clusters,
        skew=args.skew,
    )
    spark = (
        SparkSession.builder.master(args.master)
        .appName("smote-bench-generate")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "WARN")
        .getOrCreate()
    )
    try:
        meta = generate(spark, shape, args.output, args.partitions)
    finally:
        spark.stop()
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
