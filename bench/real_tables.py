"""The job end to end on the real tables (README, "The real tables"), timed and checked.

For each config (``conf/adult.yaml``, ``conf/census_income.yaml``) this runs, from the
repository root,

    spark-submit --master local[2] jobs/smote_job.py --config conf/<name>.yaml --output <tmp>

with pyspark's own spark-submit and ``PYSPARK_PYTHON`` set to this Python, and times its
wall time. When every run has finished (so that only one Spark process runs at a time), one
local Spark session reads each input (with the config's reader options) and output and
checks:

* ``exit``: the job exited 0 and its report says ``succeeded``;
* ``schema``: the output schema is the input's plus the boolean ``synthetic_col``;
* ``counts``: class counts before and after equal the run report's and the plan worked out
  here from the config (``round(n * P / 100)`` halves up, balance, ratio or counts);
* ``input rows``: the rows flagged false are the input rows as a multiset: per class the
  same count and the same sums of two hashes of all columns (xxhash64 and murmur3), and
  no row left over either way (``exceptAll``);
* ``synthetic per class``: each class has exactly its planned synthetic rows, with its label;
* ``non-features null``: every column that is not a feature (excluded, or left out of
  ``input_cols``) is null in every synthetic row;
* ``nominal values``: every nominal value of a synthetic row occurs in that class's input;
* ``numeric ranges``: every interpolated feature (the integers of these tables) of a
  synthetic row lies within that class's input range.

Then it prints one line per config: rows, class counts before -> after, wall time, checks
passed; and the details of any failed check. The exit code is 0 when every check passed.

Usage (from anywhere; adult takes about a minute and a half, census-income about five)::

    python bench/real_tables.py [--only adult census_income] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

import pyspark
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from smote_spark.config import JobConfig, load_config
from smote_spark.settings import SmoteSettings

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {"adult": "conf/adult.yaml", "census_income": "conf/census_income.yaml"}
INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
INTERPOLATED = (*INTEGRAL, T.FloatType, T.DoubleType, T.DecimalType, T.DateType, T.TimestampType)


@dataclass
class Run:
    """One config's job run and what the checks found."""

    name: str
    config_path: str
    output: str
    exit_code: int | None = None
    wall_s: float = 0.0
    log_path: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check(self, name: str, ok: bool, problem: str = "") -> None:
        self.checks[name] = self.checks.get(name, True) and ok
        if not ok:
            self.problems.append(f"{name}: {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--workdir", help="where outputs and logs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep outputs and logs")
    args = parser.parse_args(argv)

    os.chdir(REPO)  # the configs' relative paths are relative to the repository root
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="smote-real-tables-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    runs = [Run(name, CONFIGS[name], str(workdir / f"{name}_smote")) for name in args.only]
    try:
        for run in runs:
            submit(run, workdir)
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("smote-real-tables-check")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.ui.enabled", "false")
            .config("spark.log.level", "ERROR")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        try:
            for run in runs:
                if run.exit_code == 0:
                    check_run(spark, run)
        finally:
            spark.stop()
        print_table(runs)
    finally:
        if args.keep:
            print(f"outputs and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(run.checks and all(run.checks.values()) for run in runs) else 1


# --------------------------------------------------------------------------- the runs


def spark_submit() -> str:
    """pyspark's bundled spark-submit, next to the installed package."""
    return str(Path(pyspark.__file__).resolve().parent / "bin" / "spark-submit")


def submit(run: Run, workdir: Path) -> None:
    command = [
        spark_submit(),
        "--master",
        "local[2]",
        "jobs/smote_job.py",
        "--config",
        run.config_path,
        "--output",
        run.output,
    ]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    run.log_path = str(workdir / f"{run.name}.log")
    print(f"{run.name}: {' '.join(command)}", flush=True)
    with open(run.log_path, "w") as log:
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        run.wall_s = time.perf_counter() - started
    run.exit_code = done.returncode
    print(f"{run.name}: exit {run.exit_code} after {clock(run.wall_s)}", flush=True)
    report = Path(run.output + ".report.json")
    if report.exists():
        run.report = json.loads(report.read_text())
    ok = run.exit_code == 0 and run.report.get("status") == "succeeded"
    run.check("exit", ok, f"exit code {run.exit_code}, report status {run.report.get('status')}")
    if not ok:
        tail = Path(run.log_path).read_text().splitlines()[-30:]
        print("\n".join(f"  | {line}" for line in tail), file=sys.stderr)


# ------------------------------------------------------------------------- the checks


def column(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def read_input(spark: SparkSession, config: JobConfig) -> DataFrame:
    source = config.input
    if source.table is not None:
        return spark.read.table(source.table)
    reader = spark.read.format(source.reader_format).options(**source.reader_options)
    return reader.load(str(source.path))


def features_of(df: DataFrame, settings: SmoteSettings) -> tuple[list[str], list[str]]:
    """(interpolated, nominal) feature names, worked out from the settings' rules."""
    excluded = set(settings.exclude_cols or [])
    names = settings.input_cols if settings.input_cols is not None else df.columns
    names = [n for n in names if n != settings.label_col and n not in excluded]
    declared = set(settings.nominal_cols or [])
    types = {f.name: f.dataType for f in df.schema.fields}
    nominal = [
        n
        for n in names
        if isinstance(types[n], T.StringType | T.BooleanType)
        or (n in declared and isinstance(types[n], INTEGRAL))
    ]
    numeric = [n for n in names if n not in nominal and isinstance(types[n], INTERPOLATED)]
    return numeric, nominal


def planned_after(counts: dict[Any, int], settings: SmoteSettings) -> dict[Any, int]:
    """Class counts after the run, from the config's way to ask (worked out here)."""

    def half_up(value: float) -> int:
        return math.floor(value + 0.5)

    def named(label: Any) -> Any:
        found = [c for c in counts if c == label or str(c) == str(label)]
        assert found, f"class {label!r} is not in the input"
        return found[0]

    majority = max(counts.values())
    if settings.balance:
        targets = {label: majority for label in counts}
    elif settings.target_counts is not None:
        targets = {named(label): n for label, n in settings.target_counts.items()}
    else:
        if settings.classes is not None:
            chosen = [named(label) for label in settings.classes]
        elif settings.minority_label is not None:
            chosen = [named(settings.minority_label)]
        else:
            fewest = min(counts.values())
            ties = [label for label, n in counts.items() if n == fewest]
            assert len(ties) == 1, f"classes {ties} tie for the fewest rows; name one"
            chosen = ties
        if settings.target_ratio is not None:
            targets = {label: half_up(settings.target_ratio * majority) for label in chosen}
        else:
            targets = {
                label: counts[label] + half_up(counts[label] * settings.percentage / 100)
                for label in chosen
            }
    return {label: targets.get(label, n) for label, n in counts.items()}


def check_run(spark: SparkSession, run: Run) -> None:
    config = load_config(["--config", run.config_path, "--output", run.output])
    settings = config.smote
    flag = settings.synthetic_col
    if flag is None:
        run.check("config", False, "these checks need smote.synthetic_col in the config")
        return
    label = column(settings.label_col)
    source = read_input(spark, config).cache()
    expected_schema = T.StructType([*source.schema.fields, T.StructField(flag, T.BooleanType())])
    reader = spark.read.format(config.output.format)
    if config.output.format == "csv":
        reader = reader.schema(expected_schema).option("header", "true")
    output = reader.load(run.output).cache()
    synthetic = output.filter(column(flag))
    numeric, nominal = features_of(source, settings)

    def as_pairs(schema: T.StructType) -> list[tuple[str, T.DataType]]:
        return [(f.name, f.dataType) for f in schema.fields]

    run.check(
        "schema",
        as_pairs(output.schema) == as_pairs(expected_schema),
        f"output {output.schema.simpleString()} != input + {flag}",
    )

    # Counts and checksums per class: input, and output split by the flag.
    everything = [column(name) for name in source.columns]
    sums = [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.xxhash64(*everything).cast("decimal(38,0)")).alias("xx"),
        F.sum(F.hash(*everything).cast("decimal(38,0)")).alias("murmur"),
    ]
    given = {r[0]: r for r in source.groupBy(label).agg(*sums).collect()}
    made = {(r[0], r[1]): r for r in output.groupBy(label, column(flag)).agg(*sums).collect()}
    before = {key: int(r["rows"]) for key, r in given.items()}
    after = {key: 0 for key in before}
    for (key, _), r in made.items():
        after[key] = after.get(key, 0) + int(r["rows"])
    run.rows = sum(before.values())
    run.before = {str(k): n for k, n in before.items()}
    run.after = {str(k): n for k, n in after.items()}
    planned = {str(k): n for k, n in planned_after(before, settings).items()}
    report_before, report_after = run.report["counts_before"], run.report["counts_after"]
    run.check(
        "counts",
        run.before == report_before and run.after == report_after == planned,
        f"before {run.before} (report {report_before}); after {run.after} "
        f"(report {report_after}, planned {planned})",
    )

    # Input rows: unchanged as a multiset.
    same = all(
        (key, False) in made and tuple(made[key, False][2:]) == tuple(given[key][1:])
        for key in given
    )
    originals = output.filter(~column(flag)).drop(flag)
    missing = source.exceptAll(originals).count()
    extra = originals.exceptAll(source).count()
    run.check(
        "input rows",
        same and missing == 0 and extra == 0,
        f"per-class count/checksums equal: {same}; input rows missing {missing}, extra {extra}",
    )

    # Synthetic rows per class: exactly as planned, and the report's.
    per_class = {str(key): int(r["rows"]) for (key, new), r in made.items() if new}
    wanted = {k: planned[k] - run.before[k] for k in planned if planned[k] > run.before[k]}
    reported = {k: v["synthetic_rows"] for k, v in run.report.get("classes", {}).items()}
    run.check(
        "synthetic per class",
        per_class == wanted == reported,
        f"made {per_class}, planned {wanted}, report {reported}",
    )

    # Columns that are not features: null in every synthetic row.
    others = [n for n in source.columns if n not in numeric + nominal and n != settings.label_col]
    if others:
        filled = synthetic.filter(reduce(or_, (column(n).isNotNull() for n in others))).count()
    else:
        filled = 0
    run.check("non-features null", filled == 0, f"{filled} synthetic rows fill one of {others}")

    # Nominal values: each (class, feature, value) of a synthetic row occurs in the input.
    def value_pairs(frame: DataFrame) -> DataFrame:
        pairs = F.array(
            *(
                F.struct(F.lit(n).alias("feature"), column(n).cast("string").alias("value"))
                for n in nominal
            )
        )
        return frame.select(label.alias("label"), F.explode(pairs).alias("p")).select(
            "label", "p.feature", "p.value"
        )

    if nominal:
        foreign = value_pairs(synthetic).distinct().exceptAll(value_pairs(source).distinct())
        strays = foreign.limit(10).collect()
        run.check(
            "nominal values",
            not strays,
            "values not in their class: " + ", ".join(str(tuple(r)) for r in strays),
        )
    else:
        run.check("nominal values", True)

    # Interpolated features: within the class's input range.
    if numeric:
        bounds = [F.min(column(n)).alias(f"min{i}") for i, n in enumerate(numeric)] + [
            F.max(column(n)).alias(f"max{i}") for i, n in enumerate(numeric)
        ]
        known = {r[0]: r for r in source.groupBy(label).agg(*bounds).collect()}
        outside = []
        for r in synthetic.groupBy(label).agg(*bounds).collect():
            own = known[r[0]]
            for i, name in enumerate(numeric):
                low, high = r[f"min{i}"], r[f"max{i}"]
                if low is None or high is None or low < own[f"min{i}"] or high > own[f"max{i}"]:
                    outside.append(
                        f"{r[0]!r}.{name} [{low}, {high}] outside "
                        f"[{own[f'min{i}']}, {own[f'max{i}']}]"
                    )
        run.check("numeric ranges", not outside, "; ".join(outside))
    else:
        run.check("numeric ranges", True)
    output.unpersist()
    source.unpersist()


# --------------------------------------------------------------------------- the table


def clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:04.1f}"


def print_table(runs: list[Run]) -> None:
    header = ["config", "rows", "class counts before -> after", "wall time", "checks passed"]
    lines = []
    for run in runs:
        counts = "; ".join(
            f"{label} {n:,} -> {run.after.get(label, 0):,}" for label, n in run.before.items()
        )
        passed = sum(run.checks.values())
        lines.append(
            [
                run.config_path,
                f"{run.rows:,}",
                counts or "-",
                clock(run.wall_s),
                f"{passed}/{len(run.checks)}",
            ]
        )
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    print()
    for row in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for run in runs:
        steps = run.report.get("job_timings_s", {})
        if steps:
            described = ", ".join(f"{step} {s:.1f} s" for step, s in steps.items())
            print(f"\n{run.config_path} job steps: {described}")
        print(
            f"{run.config_path} checks: "
            + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in run.checks.items())
        )
        for problem in run.problems:
            print(f"  FAILED {problem}")


if __name__ == "__main__":
    sys.exit(main())
