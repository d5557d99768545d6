"""Faults: tasks that fail on their first attempt mid-job change nothing in the output.

The job runs through spark-submit on ``local[2,4]`` (local mode retries a failed task only
with the ``[N,F]`` form) with the test-only conf key of `smote_spark.faults`. One run
oversamples both classes of the blood data: class 1 (178 rows) in exact mode and class 0
(570 rows) in LSH mode, so a single undisturbed run is the reference for faults in every
step: exact mode's generate, and LSH mode's candidates, draw and interpolate.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyspark
import pytest

from smote_spark.errors import InvalidParameterError
from smote_spark.faults import FAIL_FIRST_ATTEMPT, failing_steps, with_faults

REPO = Path(__file__).resolve().parent.parent
BLOOD = REPO / "data" / "blood_transfusion.csv"
SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"

# Class 1: 178 -> 356 rows, exact (178 <= exact_max_rows) in tasks (driver_max_rows 0);
# class 0: 570 -> 700, LSH (two tables, to keep the three runs short).
CONFIG = f"""
input: {{path: {BLOOD}}}
output: {{path: out}}
smote:
  label_col: Class
  target_counts: {{0: 700, 1: 356}}
  k: 5
  seed: 42
  exact_max_rows: 300
  driver_max_rows: 0
  num_hash_tables: 2
spark:
  conf: {{spark.sql.shuffle.partitions: 4}}
"""
LOST_TASK = re.compile(r"Lost task (\d+)\.(\d+) in stage \S+ .*")
INJECTED = re.compile(r"injected test fault in step '(\w+)' \(partition \d+, attempt 0\)")


def submit(directory: Path, *conf: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the job in a new ``directory`` (output ``out``) with ``--conf`` settings; return
    the process and its whole log."""
    directory.mkdir()
    config = directory / "job.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    command = [str(SPARK_SUBMIT), "--master", "local[2,4]"]
    for setting in conf:
        command += ["--conf", setting]
    command += [str(REPO / "jobs" / "smote_job.py"), "--config", str(config)]
    done = subprocess.run(
        command, cwd=directory, env=env, capture_output=True, text=True, timeout=600
    )
    # spark-submit sends the Python driver's stderr (our log) to its stdout, Spark's to stderr.
    return done, done.stdout + done.stderr


def sorted_rows(path: Path) -> list[tuple[Any, ...]]:
    frame = pd.read_parquet(path)
    return sorted(frame.itertuples(index=False, name=None))


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("faults") / "clean"
    done, log = submit(directory)
    assert done.returncode == 0, log[-3000:]
    return {"rows": sorted_rows(directory / "out"), "log": log}


def lost_tasks(log: str) -> list[int]:
    """The attempt number of every task that Spark reports lost."""
    return [int(match.group(2)) for match in LOST_TASK.finditer(log)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "steps",
    ["candidates,draw", "generate,interpolate"],
    ids=["lsh-candidates-draw", "exact-generate-lsh-interpolate"],
)
def test_first_attempts_that_fail_change_nothing(
    tmp_path: Path, undisturbed: dict[str, Any], steps: str
) -> None:
    done, log = submit(tmp_path / "faulty", f"{FAIL_FIRST_ATTEMPT}={steps}")

    assert done.returncode == 0, log[-3000:]
    # Each named step failed tasks, each on its first attempt only: the retries succeeded.
    assert set(INJECTED.findall(log)) == set(steps.split(","))
    assert set(lost_tasks(log)) == {0}
    written = tmp_path / "faulty" / "out"
    assert sorted_rows(written) == undisturbed["rows"]
    report = json.loads(Path(f"{written}.report.json").read_text())
    assert report["counts_after"] == {"0": 700, "1": 356}
    modes = {label: facts["neighbour_mode"] for label, facts in report["classes"].items()}
    assert modes == {"0": "lsh", "1": "exact"}


@pytest.mark.slow
def test_undisturbed_log_has_no_fault_and_times_each_step(undisturbed: dict[str, Any]) -> None:
    log = undisturbed["log"]

    assert "injected test fault" not in log and lost_tasks(log) == []
    assert len(undisturbed["rows"]) == 570 + 178 + 130 + 178
    # The job's steps (job.py, one decimal) and the library's (resampling.py, two).
    for step in ("read", "oversample", "write"):
        assert re.search(rf"INFO smote_spark\.job: step {step} took \d+\.\d s$", log, re.M)
    for step in ("count", "extract", "neighbours"):
        assert re.search(rf"INFO smote_spark\.resampling: step {step} took \d+\.\d\d s$", log, re.M)


# ---------------------------------------------------------------------------- no Spark


class FakeConf:
    def __init__(self, value: str | None) -> None:
        self.value = value

    def get(self, key: str, default: str | None = None) -> str | None:
        assert key == FAIL_FIRST_ATTEMPT
        return self.value if self.value is not None else default


class FakeSession:
    def __init__(self, value: str | None) -> None:
        self.conf = FakeConf(value)


def test_without_the_key_the_function_is_shipped_unchanged() -> None:
    def draw(batches: Any) -> Any:
        return batches

    assert with_faults(FakeSession(None), "draw", draw) is draw  # type: ignore[arg-type]
    assert with_faults(FakeSession(""), "draw", draw) is draw  # type: ignore[arg-type]
    assert with_faults(FakeSession("generate"), "draw", draw) is draw  # type: ignore[arg-type]
    wrapped = with_faults(FakeSession(" generate, draw "), "draw", draw)  # type: ignore[arg-type]
    assert wrapped is not draw
    assert wrapped([1]) == [1]  # outside a task there is no attempt to fail


def test_an_unknown_step_is_refused() -> None:
    with pytest.raises(
        InvalidParameterError,
        match=r"^spark\.smote_spark\.test\.failFirstAttempt: unknown step\(s\) \['drw'\] in "
        r"'drw,generate'; name steps among \['candidates', 'draw', 'generate', 'interpolate'\]",
    ):
        failing_steps(FakeSession("drw,generate"))  # type: ignore[arg-type]
