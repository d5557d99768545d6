"""Scheduled ETL with the job: catalog tables, partitioned output, write modes, reruns."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from smote_spark.job import main
from smote_spark.storage import hadoop_store, write_atomically

# 12 rows of class 0 and 6 of class 1: percentage 100 adds 6 rows of class 1.
SMALL = pd.DataFrame(
    {"a": list(range(18)), "b": [v * 3 % 7 for v in range(18)], "y": [0] * 12 + [1] * 6}
)
SMOTE_FLAGS = ["--label", "y", "--k", "3", "--seed", "3"]


def sorted_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    columns = sorted(frame.columns)
    return sorted(frame[columns].itertuples(index=False, name=None), key=repr)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.fixture
def database(spark: SparkSession, tmp_path: Path) -> Iterator[str]:
    """A database whose managed tables live in ``tmp_path``, holding the table ``source``."""
    name = f"etl_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {name} LOCATION '{(tmp_path / 'warehouse').as_uri()}'")
    spark.createDataFrame(SMALL).write.saveAsTable(f"{name}.source")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def tables(spark: SparkSession, database: str) -> list[str]:
    return sorted(table.name for table in spark.catalog.listTables(database))


def run_tables(database: str, tmp_path: Path | None, *flags: str) -> int:
    """Run source -> out; with ``tmp_path`` the report goes to a file there, else the log."""
    where = ["--input-table", f"{database}.source", "--output-table", f"{database}.out"]
    report = ["--config", str(_report_config(tmp_path))] if tmp_path else []
    return main([*where, *report, *SMOTE_FLAGS, *flags])


def _report_config(tmp_path: Path) -> Path:
    # output.report_path has no flag: a table's report file is set in the config.
    path = tmp_path / "job.yaml"
    path.write_text(f"output: {{report_path: {tmp_path / 'out.report.json'}}}\n")
    return path


def test_table_to_table_with_its_report(spark: SparkSession, database: str, tmp_path: Path) -> None:
    assert run_tables(database, tmp_path) == 0

    written = spark.table(f"{database}.out").toPandas()
    assert written["y"].value_counts().to_dict() == {0: 12, 1: 12}
    assert tables(spark, database) == ["out", "source"]  # no staging table left behind
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["input"] == {"table": f"{database}.source"}
    assert report["output"]["table"] == f"{database}.out"
    assert report["counts_before"] == {"0": 12, "1": 6}
    assert report["counts_after"] == {"0": 12, "1": 12}
    assert report["seed"] == 3
    assert report["parameters"]["k"] == 3 and report["parameters"]["seed"] == 3
    assert report["neighbour_mode"] == "exact"
    assert report["application_id"] == spark.sparkContext.applicationId
    assert report["job_timings_s"].keys() >= {"read", "oversample", "write", "total"}
    assert report["timings_s"]  # the library's own steps


def test_table_modes(
    spark: SparkSession, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_tables(database, None) == 0
    first = sorted_rows(spark.table(f"{database}.out").toPandas())

    assert run_tables(database, None) == 2
    assert error_line(capsys) == (
        f"output error: output.table: {database}.out already exists and output.mode is "
        "'error'; drop it, choose another table, or use --mode overwrite or append."
    )
    assert run_tables(database, None, "--mode", "overwrite") == 0
    assert sorted_rows(spark.table(f"{database}.out").toPandas()) == first  # same seed

    assert run_tables(database, None, "--mode", "append") == 0
    appended = spark.table(f"{database}.out").toPandas()
    assert sorted_rows(appended) == sorted(first + first, key=repr)
    assert tables(spark, database) == ["out", "source"]


def test_missing_input_table(
    spark: SparkSession, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--input-table", f"{database}.nope", "--output", str(tmp_path / "out")]

    assert main([*argv, *SMOTE_FLAGS]) == 2
    assert error_line(capsys) == (
        f"input error: input.table: {database}.nope is not in the catalog; check the name "
        "(the current database is 'default')."
    )
    assert not (tmp_path / "out").exists()


def run_path(tmp_path: Path, *flags: str) -> int:
    source = tmp_path / "small.parquet"
    if not source.exists():
        SMALL.to_parquet(source)
    output = ["--output", str(tmp_path / "out"), "--partition-by", "y"]
    return main(["--input", str(source), *output, *SMOTE_FLAGS, *flags])


def read_out(tmp_path: Path) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "out")


def test_partitioned_path_output_overwrite_and_append(tmp_path: Path) -> None:
    assert run_path(tmp_path) == 0
    first = sorted_rows(read_out(tmp_path))
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["y=0", "y=1"]
    assert len(first) == 24

    # A rerun with the same input and seed writes the same rows, however often.
    assert run_path(tmp_path, "--mode", "overwrite") == 0
    assert sorted_rows(read_out(tmp_path)) == first

    assert run_path(tmp_path, "--mode", "append") == 0
    assert sorted_rows(read_out(tmp_path)) == sorted(first + first, key=repr)
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["output"]["mode"] == "append"
    assert report["output"]["partition_by"] == ["y"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_append_creates_a_missing_output(tmp_path: Path) -> None:
    assert run_path(tmp_path, "--mode", "append") == 0

    assert len(read_out(tmp_path)) == 24


def test_unknown_partition_column_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_path(tmp_path, "--partition-by", "y,day") == 2

    assert re.fullmatch(
        r"config error: output\.partition_by: column\(s\) \['day'\] are not in the output, "
        r"whose columns are \['a', 'b', 'y'\]; name output columns \(the label is a good "
        r"choice\)\.",
        error_line(capsys),
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.parquet"]


# ---------------------------------------------------------------------------------------------
# A job killed while it writes


# Runs the job with every write task held up for a minute, so that the kill lands while
# Spark is writing the hidden temporary output.
SLOW_JOB = """
import sys, time
import smote_spark.job as job

plain_writer = job._writer

def crawl(batches):
    for batch in batches:
        time.sleep(60)
        yield batch

def slow_writer(frame, settings):
    return plain_writer(frame.mapInPandas(crawl, frame.schema), settings)

job._writer = slow_writer
sys.exit(job.main(sys.argv[1:]))
"""


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def wait_for(condition: Any, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the job ended early with code {process.returncode}"
        assert time.monotonic() < deadline, f"gave up after {seconds} s"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_job_killed_while_writing_leaves_the_previous_output(tmp_path: Path) -> None:
    source = tmp_path / "small.parquet"
    SMALL.to_parquet(source)
    (tmp_path / "out").mkdir()
    SMALL.head(5).to_parquet(tmp_path / "out" / "part-00000-previous.parquet")
    (tmp_path / "out.report.json").write_text('{"status": "succeeded", "previous": true}\n')
    before, report_before = snapshot(tmp_path / "out"), (tmp_path / "out.report.json").read_text()
    script = tmp_path / "slow_job.py"
    script.write_text(SLOW_JOB)

    argv = ["--input", str(source), "--output", str(tmp_path / "out"), "--mode", "overwrite"]
    log = (tmp_path / "job.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(script), *argv, *SMOTE_FLAGS],
        cwd=tmp_path,
        env=dict(os.environ, PYSPARK_PYTHON=sys.executable),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the JVM and workers die with it
    )
    try:
        writing = lambda: any(tmp_path.glob(".out.tmp-*/_temporary"))  # noqa: E731
        wait_for(writing, process, seconds=300)
        time.sleep(2)  # let the write tasks start
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        log.close()

    assert process.returncode == -signal.SIGKILL
    assert snapshot(tmp_path / "out") == before
    assert (tmp_path / "out.report.json").read_text() == report_before
    assert len(pd.read_parquet(tmp_path / "out")) == 5
    # What the killed run leaves is hidden beside the output, never inside it.
    left = sorted(p.name.split("-")[0] for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == [".out.tmp"]

    assert run_path(tmp_path, "--mode", "overwrite", "--partition-by", "y") == 0  # recovers
    assert len(read_out(tmp_path)) == 24


def test_hadoop_filesystem_append_moves_the_new_files_in(
    spark: SparkSession, tmp_path: Path
) -> None:
    # The route hdfs:// and s3a:// outputs take, exercised on Hadoop's local filesystem.
    output = (tmp_path / "out").as_uri()
    store = hadoop_store(spark, output)
    assert store is not None

    def write_data(path: str) -> None:
        spark.range(5).withColumn("p", F.col("id") % 2).write.partitionBy("p").parquet(path)

    for _ in range(2):
        write_atomically(store, output, "append", write_data, lambda: "{}")

    written = pd.read_parquet(tmp_path / "out")
    assert sorted(written["id"]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["p=0", "p=1"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crc")) == [
        "out",
        "out.report.json",
    ]
