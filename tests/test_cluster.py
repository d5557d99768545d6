"""On a Spark standalone cluster: the job, shipped as users ship it, writes the local rows.

The test starts a master and two workers (one core, 1 GB each) on 127.0.0.1 with
pyspark's own ``bin/spark-class``, zips the package and submits the job with
``spark-submit --master spark://... --py-files smote_spark.zip``. Driver and executors run
a Python that has the dependencies but *not* smote_spark (the base interpreter with the
venv's site-packages on PYTHONPATH, which skips the editable install's hook), so the job
only works if the zip is shipped. Everything started is stopped, even on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyspark
import pytest
from daemons import free_port, stop_process_group

from smote_spark.job import main

REPO = Path(__file__).resolve().parents[1]
BLOOD = REPO / "data" / "blood_transfusion.csv"
SPARK_HOME = Path(pyspark.__file__).parent
START_TIMEOUT_S = 120
SUBMIT_TIMEOUT_S = 600
# The bundled config, in LSH mode so that neighbours cross executors through shuffles.
JOB_FLAGS = ["--config", str(REPO / "conf" / "blood_transfusion.yaml"), "--input", str(BLOOD)]
JOB_FLAGS += ["--neighbour-mode", "lsh", "--percentage", "200"]

pytestmark = pytest.mark.slow


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as page:
            state = json.load(page)
    except OSError:
        return 0
    return sum(worker.get("state") == "ALIVE" for worker in state.get("workers", []))


def _package_free_python(folder: Path) -> Path:
    """A Python with the venv's packages but without smote_spark, like a deps-only env."""
    launcher = folder / "python-without-smote-spark"
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = sysconfig.get_paths()["purelib"]
    launcher.write_text(
        f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}" exec "{base}" "$@"\n'
    )
    launcher.chmod(0o755)
    return launcher


def _zip_package(folder: Path) -> Path:
    """smote_spark.zip, as ``zip -r smote_spark.zip smote_spark`` would make it."""
    archive = folder / "smote_spark.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for source in sorted((REPO / "smote_spark").rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                bundle.write(source, source.relative_to(REPO))
    return archive


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with two live workers."""
    folder = tmp_path_factory.mktemp("cluster")
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    env = os.environ | {"SPARK_LOCAL_IP": "127.0.0.1", "SPARK_HOME": str(SPARK_HOME)}
    port, ui_port = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    commands = [
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
        + ["--port", str(port), "--webui-port", str(ui_port)]
    ]
    for n in range(2):
        commands.append(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1"]
            + ["--cores", "1", "--memory", "1g", "--port", "0"]
            + ["--webui-port", str(free_port()), "--work-dir", str(folder / f"work{n}")]
            + [master_url]
        )
    started: list[subprocess.Popen[bytes]] = []
    try:
        for n, command in enumerate(commands):
            with (folder / f"daemon{n}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=env,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + START_TIMEOUT_S
        while _alive_workers(ui_port) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in started):
                logs = "\n".join(
                    (folder / f"daemon{n}.log").read_text(errors="replace")[-1500:]
                    for n in range(len(started))
                )
                pytest.fail(f"standalone cluster did not come up with 2 workers:\n{logs}")
            time.sleep(1.0)
        yield master_url
    finally:
        for process in reversed(started):
            stop_process_group(process)


def written_rows(path: Path) -> list[tuple]:
    return sorted(pd.read_parquet(path).itertuples(index=False, name=None))


def test_job_on_the_cluster_writes_the_local_mode_rows(cluster, spark, tmp_path):
    python = _package_free_python(tmp_path)
    no_package = subprocess.run(
        [str(python), "-c", "import smote_spark"], cwd=tmp_path, capture_output=True
    )
    assert no_package.returncode != 0, "the executors' Python must not have smote_spark"
    archive = _zip_package(tmp_path)
    job = tmp_path / "smote_job.py"
    shutil.copy(REPO / "jobs" / "smote_job.py", job)  # away from the checkout, as users run it
    output = tmp_path / "cluster_out"
    env = os.environ | {
        "PYSPARK_PYTHON": str(python),
        "PYSPARK_DRIVER_PYTHON": str(python),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    command = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        *("--master", cluster),
        *("--py-files", str(archive)),
        *("--conf", f"spark.pyspark.python={python}"),
        *("--conf", "spark.ui.enabled=false"),
        *("--executor-memory", "640m", "--executor-cores", "1", "--total-executor-cores", "2"),
        str(job),
        *JOB_FLAGS,
        *("--output", str(output)),
    ]

    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S
    )

    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    report = json.loads(Path(f"{output}.report.json").read_text())
    assert report["application_id"].startswith("app-")  # a standalone application
    assert report["counts_after"] == {"0": 570, "1": 534}

    local = tmp_path / "local_out"
    assert main([*JOB_FLAGS, "--output", str(local)]) == 0
    cluster_rows = written_rows(output)
    assert len(cluster_rows) == 570 + 534
    assert cluster_rows == written_rows(local)
