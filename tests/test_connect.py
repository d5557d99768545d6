"""Through Spark Connect: the library gives the same rows as in local mode.

The tests start a Spark Connect server (its own JVM, local[2]) on 127.0.0.1 once for the
module. The client runs in a child process, as a user's would: a Connect session and the
classic session of the other tests cannot share one Python process (pyspark.ml picks its
Connect or classic code from a process-wide switch). The child writes what it collected to
a file, and the tests compare it with the same calls made here in local mode.

Run as a script (``python tests/test_connect.py URL OUT``) it is that child.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest
from daemons import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[1]
BLOOD = REPO / "data" / "blood_transfusion.csv"
FEATURES = ["Recency", "Frequency", "Monetary", "Time"]
SPARK_HOME = Path(pyspark.__file__).parent
CONNECT_JAR = next((SPARK_HOME / "jars").glob("spark-connect_*.jar"), None)
START_TIMEOUT_S = 180
CLIENT_TIMEOUT_S = 540

# What both sides run: name -> keyword arguments of `oversample`.
CASES: dict[str, dict[str, Any]] = {
    "exact": dict(label_col="Class", percentage=200, k=5, seed=11, neighbour_mode="exact"),
    "lsh": dict(label_col="Class", percentage=100, k=5, seed=12, neighbour_mode="lsh"),
}
STAGE = dict(labelCol="Class", inputCols=FEATURES, percentage=150, seed=13, syntheticCol="new")


def rows(df: Any) -> list[tuple]:
    """All rows as sorted tuples: a multiset that ignores order and partitioning."""
    return sorted(tuple(row) for row in df.collect())


def run_everything(spark: Any, workdir: Path) -> dict[str, Any]:
    """The library calls compared between Connect and local mode; their collected rows."""
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    from smote_spark import SMOTE, Oversampled, minority_neighbours, oversample

    blood = spark.read.csv(str(BLOOD), header=True, inferSchema=True)
    out: dict[str, Any] = {}
    for name, params in CASES.items():
        result = oversample(blood, **params)
        out[name] = rows(result.dataframe)
        out[f"{name}_report"] = {k: result.report[k] for k in ("counts_after", "neighbour_mode")}
        result.release()
    out["neighbours"] = rows(minority_neighbours(blood, **CASES["exact"]))

    stage = SMOTE(**STAGE)
    stage.write().overwrite().save(str(workdir / "smote"))
    loaded = SMOTE.load(str(workdir / "smote"))
    out["stage"] = rows(loaded.transform(blood))
    out["stage_params"] = {p.name: loaded.getOrDefault(p) for p in loaded.params}

    inner = Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features"),
            LogisticRegression(labelCol="Class", maxIter=10),
        ]
    )
    smote = SMOTE(labelCol="Class", inputCols=FEATURES, seed=14)
    model = Pipeline(stages=[Oversampled(estimator=inner, smote=smote)]).fit(blood)
    # A fresh path: pyspark's own Pipeline writer cannot overwrite through Connect.
    model.save(str(workdir / "model"))
    scored = PipelineModel.load(str(workdir / "model")).transform(blood)
    out["scored_rows"] = scored.count()
    out["trained_rows"] = sum(model.stages[0].trainingReport["counts_after"].values())
    return out


def _client(url: str, out: str) -> None:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.remote(url).getOrCreate()
    try:
        kind = type(spark).__module__
        results = run_everything(spark, Path(out).parent) | {"session_module": kind}
    finally:
        spark.stop()
    Path(out).write_bytes(pickle.dumps(results))


# ------------------------------------------------------------------------- the server


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if CONNECT_JAR is None:
        pytest.fail(f"no spark-connect jar in {SPARK_HOME / 'jars'}; pyspark 4 ships one")
    port = free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    env = os.environ | {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", f"spark.pyspark.python={sys.executable}"),
        *("--conf", "spark.sql.shuffle.partitions=4"),
        *("--conf", "spark.ui.enabled=false"),
        str(CONNECT_JAR),
    ]
    with log.open("wb") as sink:
        server = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                pytest.fail(f"Spark Connect server did not start on port {port}:\n{tail}")
            time.sleep(1.0)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_process_group(server)


@pytest.fixture(scope="module")
def remote(connect_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the Connect client collected."""
    out = tmp_path_factory.mktemp("connect_client") / "results.pickle"
    env = os.environ | {"PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(
        [sys.executable, __file__, connect_url, str(out)],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return pickle.loads(out.read_bytes())


@pytest.fixture(scope="module")
def local(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_everything(spark, tmp_path_factory.mktemp("connect_local"))


def test_the_client_ran_through_spark_connect(remote):
    assert remote["session_module"] == "pyspark.sql.connect.session"


@pytest.mark.parametrize("mode", sorted(CASES))
def test_oversample_gives_the_local_rows(remote, local, mode):
    assert len(remote[mode]) == {"exact": 748 + 356, "lsh": 748 + 178}[mode]
    assert remote[mode] == local[mode]
    assert remote[f"{mode}_report"] == local[f"{mode}_report"]
    assert remote[f"{mode}_report"]["neighbour_mode"] == mode


def test_minority_neighbours_gives_the_local_lists(remote, local):
    assert len(remote["neighbours"]) == 178
    assert remote["neighbours"] == local["neighbours"]


def test_stage_saved_and_loaded_gives_the_local_rows(remote, local):
    assert len(remote["stage"]) == 748 + 267
    assert remote["stage"] == local["stage"]
    assert remote["stage_params"] == local["stage_params"]


def test_oversampled_pipeline_trains_on_more_rows_and_scores_the_given_ones(remote, local):
    assert remote["trained_rows"] == local["trained_rows"] == 748 + 178
    assert remote["scored_rows"] == local["scored_rows"] == 748


if __name__ == "__main__":
    _client(*sys.argv[1:3])
