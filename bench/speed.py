"""The speed benchmark of issue 5: our job against a plain Spark copy of the same table.

Usage::

    python bench/speed.py --preset 2m            # or 20m, higgs
    python bench/speed.py --rows 200000 --features 20 --minority-share 0.02 --reps 2
        [--percentage 100 | --target-ratio 1.0] [--nominal N] [--clusters C]
        [--skew none|identical|cluster90] [--modes auto exact lsh] [--warm-modes auto]
        [--no-warm] [--no-imblearn] [--imblearn-max-rows 7000000] [--event-log]
        [--master 'local[2]'] [--driver-memory 6g] [--timeout 3600]
        [--data-dir /tmp/smote_bench] [--json PATH]

One run measures, on the same parquet table (made by ``bench/generate.py`` and cached under
``--data-dir``), the median of ``--reps`` repetitions of:

* ``copy`` (cold): ``spark-submit bench/plain_copy.py``, a plain read and write;
* ``job <mode>`` (cold): ``spark-submit jobs/smote_job.py`` in each of ``--modes``; a mode
  the job refuses (exact on a class too big to ship) is recorded as ``refused``;
* ``imblearn``: imbalanced-learn's SMOTE in one Python process (read, resample, write),
  skipped above ``--imblearn-max-rows`` rows or when it would not fit in half the free
  memory;
* ``warm copy`` and ``warm job <mode>``: the same two in ONE ``spark-submit`` session after
  a warm-up of each, so the difference is our own work, without JVM start-up.

Repetitions are interleaved (copy, then each mode, then the next repetition), so a change
of machine load hits every row alike. Cold rows are compared with the cold copy, warm rows
with the warm copy. Peak memory is the largest resident set of the whole process tree
(spark-submit's JVM, the Python driver and the Python workers), polled from /proc every
0.2 s; the JVM's own peak is in the JSON. Synthetic rows per second is the job's synthetic
rows over its wall time. For cold job runs the run report's step timings (read,
oversample, write) are kept; with ``--event-log`` each cold job also writes a Spark event
log, summarised per Spark job (wall time, task time, call site) in the JSON and printed.

Every subprocess has a timeout and runs in its own process group, which is killed when the
time is up; every output is deleted after its run.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import TableShape, cached_meta, default_partitions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLAIN_COPY = ROOT / "bench" / "plain_copy.py"
GENERATE = ROOT / "bench" / "generate.py"
JOB = ROOT / "jobs" / "smote_job.py"
THIS = Path(__file__).resolve()
RESULT_TAG = "SPEED_RESULT "
_QUIET_CONF = (
    "spark.ui.enabled=false",
    "spark.ui.showConsoleProgress=false",
    "spark.driver.host=127.0.0.1",
    "spark.driver.bindAddress=127.0.0.1",
    "spark.log.level=WARN",
)


@dataclass(frozen=True)
class Preset:
    rows: int
    features: int
    minority_share: float
    percentage: float | None = 100.0
    target_ratio: float | None = None


PRESETS = {
    "2m": Preset(2_000_000, 20, 0.02),
    "20m": Preset(20_000_000, 20, 0.005),
    # HIGGS-like: 1 minority row per 16 majority rows, balanced to 1:1.
    "higgs": Preset(6_200_000, 28, 1 / 17, percentage=None, target_ratio=1.0),
}


# --------------------------------------------------------------------------- processes


@dataclass
class Measured:
    """One subprocess: its wall time, exit code, peak memory and the tail of its log."""

    wall_s: float
    returncode: int | None
    peak_rss_mb: float
    peak_jvm_rss_mb: float
    timed_out: bool
    log_tail: str
    log_path: str


def _page_kb() -> int:
    return os.sysconf("SC_PAGE_SIZE") // 1024


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name), from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; fields follow the last ')'.
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text[text.rfind(")") + 2 :].split()
        found[int(entry)] = (int(fields[1]), name)
    return found


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """Resident kB of ``root`` and all its descendants, and of the JVMs among them."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    total = jvm = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
                rss = int(statm.read().split()[1]) * _page_kb()
        except (OSError, IndexError, ValueError):
            continue
        total += rss
        if processes.get(pid, (0, ""))[1] == "java":
            jvm += rss
    return total, jvm


def run_measured(cmd: list[str], log_path: Path, timeout: float, env: dict[str, str]) -> Measured:
    """Run ``cmd`` in its own process group, polling the tree's memory; kill it on timeout."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    peak = [0, 0]
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(" ".join(cmd) + "\n\n")
        log.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                total, jvm = _tree_rss_kb(proc.pid)
                peak[0], peak[1] = max(peak[0], total), max(peak[1], jvm)
                done.wait(0.2)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
        wall = time.perf_counter() - started
        done.set()
        poller.join(timeout=5)
    return Measured(
        wall_s=round(wall, 3),
        returncode=proc.returncode,
        peak_rss_mb=round(peak[0] / 1024, 1),
        peak_jvm_rss_mb=round(peak[1] / 1024, 1),
        timed_out=timed_out,
        log_tail=_tail(log_path),
        log_path=str(log_path),
    )


def _kill_group(proc: subprocess.Popen) -> None:
    """Stop the process group this script started (and only it): TERM, then KILL."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- the plan


@dataclass
class Bench:
    """Everything a run needs, from the command line."""

    shape: TableShape
    percentage: float | None
    target_ratio: float | None
    table: str
    meta: dict[str, Any]
    data_dir: Path
    out_dir: Path
    log_dir: Path
    master: str
    driver_memory: str
    spark_submit: str
    timeout: float
    job_seed: int
    event_log: bool
    conf: list[str] = field(default_factory=list)

    @property
    def synthetic_rows(self) -> int:
        minority, majority = self.meta["minority_rows"], self.meta["majority_rows"]
        if self.target_ratio is not None:
            return max(0, _round_half_up(self.target_ratio * majority) - minority)
        return _round_half_up(minority * (self.percentage or 0.0) / 100.0)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYSPARK_PYTHON"] = sys.executable
        env["PYSPARK_DRIVER_PYTHON"] = sys.executable
        return env

    def submit(self, *extra: str) -> list[str]:
        cmd = [self.spark_submit, "--master", self.master, "--driver-memory", self.driver_memory]
        # No UI server, and the driver on the loopback interface only.
        for item in _QUIET_CONF:
            cmd += ["--conf", item]
        for item in self.conf:
            cmd += ["--conf", item]
        return cmd + list(extra)

    def job_flags(self, mode: str, output: str) -> list[str]:
        flags = ["--input", self.table, "--output", output, "--label", "label"]
        flags += ["--seed", str(self.job_seed), "--neighbour-mode", mode, "--mode", "overwrite"]
        if self.target_ratio is not None:
            # The job has no --target-ratio flag; a two-line config file gives it.
            config = self.data_dir / f"target_ratio_{self.target_ratio:g}.yaml"
            config.write_text(f"smote:\n  target_ratio: {self.target_ratio!r}\n", "utf-8")
            flags = ["--config", str(config), *flags]
        else:
            flags += ["--percentage", f"{self.percentage:g}"]
        return flags


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _remove_output(path: str) -> None:
    """Delete an output, its report and any hidden siblings a failed run left."""
    folder, name = os.path.split(path)
    for extra in [path, path + ".report.json", *glob.glob(os.path.join(folder, f".{name}*"))]:
        if os.path.isdir(extra):
            shutil.rmtree(extra, ignore_errors=True)
        elif os.path.exists(extra):
            os.remove(extra)


def ensure_table(args: argparse.Namespace, shape: TableShape, data_dir: Path) -> tuple[str, dict]:
    """The cached table of ``shape``, generated (in its own Spark process) if missing."""
    path = str(data_dir / shape.file_name())
    meta = cached_meta(path)
    if meta is not None:
        print(f"using cached table {path}", flush=True)
        return path, meta
    print(f"generating {path} ...", flush=True)
    cmd = [sys.executable, str(GENERATE), path, "--rows", str(shape.rows)]
    cmd += ["--features", str(shape.features), "--minority-share", repr(shape.minority_share)]
    cmd += ["--seed", str(shape.seed), "--nominal", str(shape.nominal)]
    cmd += ["--clusters", str(shape.clusters), "--skew", shape.skew, "--master", args.master]
    cmd += ["--partitions", str(args.partitions or default_partitions(shape.rows))]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    measured = run_measured(cmd, data_dir / "logs" / "generate.log", args.timeout, env)
    meta = cached_meta(path)
    if measured.returncode != 0 or meta is None:
        sys.exit(f"generating the table failed; see {measured.log_path}\n{measured.log_tail}")
    print(f"generated in {measured.wall_s:.0f} s", flush=True)
    return path, meta


# --------------------------------------------------------------------------- one run each


def cold_copy(bench: Bench, rep: int) -> dict[str, Any]:
    output = str(bench.out_dir / "plain_copy")
    _remove_output(output)
    cmd = bench.submit(str(PLAIN_COPY), bench.table, output, "parquet")
    measured = run_measured(cmd, bench.log_dir / f"copy-{rep}.log", bench.timeout, bench.env())
    _remove_output(output)
    return _outcome(measured)


def cold_job(bench: Bench, mode: str, rep: int) -> dict[str, Any]:
    output = str(bench.out_dir / f"job_{mode}")
    _remove_output(output)
    extra: list[str] = []
    events = bench.data_dir / "eventlogs" / f"{mode}-{rep}"
    if bench.event_log:
        shutil.rmtree(events, ignore_errors=True)
        events.mkdir(parents=True)
        extra += ["--conf", "spark.eventLog.enabled=true"]
        extra += ["--conf", f"spark.eventLog.dir=file://{events}"]
        extra += ["--conf", "spark.eventLog.compress=false"]
    cmd = bench.submit(*extra, str(JOB), *bench.job_flags(mode, output))
    log = bench.log_dir / f"job-{mode}-{rep}.log"
    measured = run_measured(cmd, log, bench.timeout, bench.env())
    outcome = _outcome(measured)
    if measured.returncode == 2 and "exact" in measured.log_tail and "error:" in measured.log_tail:
        outcome["status"] = "refused"
        outcome["message"] = _error_line(measured.log_tail)
    if outcome["status"] == "ok":
        report = _read_json(output + ".report.json")
        outcome["job_timings_s"] = report.get("job_timings_s", {})
        outcome["library_timings_s"] = report.get("timings_s", {})
        outcome["neighbour_mode_used"] = report.get("neighbour_mode")
        outcome["synthetic_rows"] = report.get("synthetic_rows")
        outcome["fallback_rows"] = report.get("fallback_rows")
        if bench.event_log:
            outcome["spark_jobs"] = summarise_event_log(events)
    _remove_output(output)
    return outcome


def _outcome(measured: Measured) -> dict[str, Any]:
    if measured.timed_out:
        status = "timeout"
    elif measured.returncode == 0:
        status = "ok"
    else:
        status = f"failed (exit {measured.returncode})"
    outcome: dict[str, Any] = {"status": status, **asdict(measured)}
    if status == "ok":
        outcome.pop("log_tail")
    return outcome


def _error_line(text: str) -> str:
    lines = [line for line in text.splitlines() if "error:" in line]
    return lines[-1].strip() if lines else text.splitlines()[-1:][0]


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as source:
            loaded: dict[str, Any] = json.load(source)
            return loaded
    except (OSError, ValueError):
        return {}


def imblearn_run(bench: Bench) -> dict[str, Any]:
    output = str(bench.out_dir / "imblearn.parquet")
    _remove_output(output)
    spec = bench.data_dir / "imblearn_spec.json"
    spec.write_text(
        json.dumps(
            {
                "input": bench.table,
                "output": output,
                "features": bench.meta["feature_cols"],
                "nominal": bench.meta["nominal_cols"],
                "target": bench.meta["minority_rows"] + bench.synthetic_rows,
                "seed": bench.job_seed,
            }
        ),
        "utf-8",
    )
    cmd = [sys.executable, str(THIS), "_imblearn", str(spec)]
    measured = run_measured(cmd, bench.log_dir / "imblearn.log", bench.timeout, bench.env())
    outcome = _outcome(measured)
    outcome.update(_result_line(measured.log_path))
    _remove_output(output)
    return outcome


def warm_runs(bench: Bench, modes: list[str], reps: int) -> dict[str, Any]:
    spec = bench.data_dir / "warm_spec.json"
    outputs = {"copy": str(bench.out_dir / "warm_copy")}
    outputs.update({mode: str(bench.out_dir / f"warm_job_{mode}") for mode in modes})
    jobs = {mode: bench.job_flags(mode, outputs[mode]) for mode in modes}
    spec.write_text(
        json.dumps({"input": bench.table, "outputs": outputs, "jobs": jobs, "reps": reps}),
        "utf-8",
    )
    cmd = bench.submit(str(THIS), "_warm", str(spec))
    timeout = bench.timeout * (1 + len(modes)) * (reps + 1)
    measured = run_measured(cmd, bench.log_dir / "warm.log", timeout, bench.env())
    outcome = _outcome(measured)
    outcome.update(_result_line(measured.log_path))
    for path in outputs.values():
        _remove_output(path)
    return outcome


def _result_line(log_path: str) -> dict[str, Any]:
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    found = [line[len(RESULT_TAG) :] for line in lines if line.startswith(RESULT_TAG)]
    return json.loads(found[-1]) if found else {}


# --------------------------------------------------------------------------- workers


def imblearn_worker(spec_path: str) -> int:
    """Read, resample with imbalanced-learn, write: one process, times of each step."""
    import numpy as np
    import pandas as pd
    from imblearn.over_sampling import SMOTE, SMOTENC

    spec = json.loads(Path(spec_path).read_text("utf-8"))
    timings = {}
    start = time.perf_counter()
    table = pd.read_parquet(spec["input"])
    columns = spec["features"] + spec["nominal"]
    timings["read"] = time.perf_counter() - start

    start = time.perf_counter()
    strategy = {1: spec["target"]}
    if spec["nominal"]:
        sampler: Any = SMOTENC(
            categorical_features=spec["nominal"],
            sampling_strategy=strategy,
            k_neighbors=5,
            random_state=spec["seed"] % 2**32,
        )
    else:
        sampler = SMOTE(
            sampling_strategy=strategy, k_neighbors=5, random_state=spec["seed"] % 2**32
        )
    features, labels = sampler.fit_resample(table[columns], table["label"].to_numpy(np.int64))
    synthetic = len(features) - len(table)
    timings["oversample"] = time.perf_counter() - start

    start = time.perf_counter()
    out = pd.DataFrame(features, columns=columns)
    out["label"] = labels
    out.to_parquet(spec["output"])
    timings["write"] = time.perf_counter() - start
    rounded = {name: round(value, 3) for name, value in timings.items()}
    print(RESULT_TAG + json.dumps({"steps_s": rounded, "synthetic_rows": synthetic}), flush=True)
    return 0


def warm_worker(spec_path: str) -> int:
    """Under spark-submit: warm up, then time the copy and each job mode in this session."""
    import logging

    from pyspark.sql import SparkSession

    from smote_spark.config import load_config
    from smote_spark.errors import SmoteError
    from smote_spark.job import run

    logging.basicConfig(level=logging.WARNING)
    spec = json.loads(Path(spec_path).read_text("utf-8"))
    spark = SparkSession.builder.appName("smote-bench-warm").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    results: dict[str, list[dict[str, Any]]] = {"copy": []}
    results.update({mode: [] for mode in spec["jobs"]})

    def copy() -> dict[str, Any]:
        start = time.perf_counter()
        spark.read.parquet(spec["input"]).write.mode("overwrite").parquet(spec["outputs"]["copy"])
        wall = time.perf_counter() - start
        _remove_output(spec["outputs"]["copy"])
        return {"status": "ok", "wall_s": round(wall, 3)}

    def job(mode: str) -> dict[str, Any]:
        output = spec["outputs"][mode]
        start = time.perf_counter()
        try:
            report = run(load_config(spec["jobs"][mode]))
        except SmoteError as exc:
            _remove_output(output)
            return {"status": "refused", "message": str(exc)}
        wall = time.perf_counter() - start
        _remove_output(output)
        return {
            "status": "ok",
            "wall_s": round(wall, 3),
            "job_timings_s": report.get("job_timings_s", {}),
            "library_timings_s": report.get("timings_s", {}),
            "synthetic_rows": report.get("synthetic_rows"),
        }

    try:
        warm_up = {"copy": copy(), **{mode: job(mode) for mode in spec["jobs"]}}
        for _ in range(spec["reps"]):
            results["copy"].append(copy())
            for mode in spec["jobs"]:
                if warm_up[mode]["status"] == "ok":
                    results[mode].append(job(mode))
                else:
                    results[mode].append(warm_up[mode])
    finally:
        spark.stop()
    print(RESULT_TAG + json.dumps({"warm_up": warm_up, "reps": results}), flush=True)
    return 0


# --------------------------------------------------------------------------- event logs


def _event_files(folder: Path) -> list[Path]:
    """The event files of the one application logged under ``folder``, in order.

    Spark 4 writes a folder ``eventlog_v2_<app>`` of ``events_<n>_<app>`` files; older
    versions (or rolling disabled) one plain file.
    """
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    files = [p for p in files if not p.name.startswith("appstatus")]

    def index(path: Path) -> int:
        found = re.match(r"events_(\d+)_", path.name)
        return int(found.group(1)) if found else 0

    return sorted(files, key=index)


def _event_lines(files: list[Path]) -> Iterator[str]:
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as events:
            yield from events


def summarise_event_log(folder: Path) -> list[dict[str, Any]]:
    """Per Spark job of a run: wall seconds, summed task seconds, stages and call site."""
    files = _event_files(folder)
    if not files:
        return []
    jobs: dict[int, dict[str, Any]] = {}
    stage_job: dict[int, int] = {}
    for line in _event_lines(files):
        event = json.loads(line)
        kind = event.get("Event")
        if kind == "SparkListenerJobStart":
            infos = event.get("Stage Infos", [])
            props = event.get("Properties") or {}
            job_id = event["Job ID"]
            jobs[job_id] = {
                "job": job_id,
                "start": event["Submission Time"],
                "stages": len(infos),
                "call_site": props.get("callSite.short")
                or (infos[-1]["Stage Name"] if infos else ""),
                "tasks": 0,
                "task_s": 0.0,
            }
            for stage in event.get("Stage IDs", []):
                stage_job[stage] = job_id
        elif kind == "SparkListenerJobEnd" and event["Job ID"] in jobs:
            job = jobs[event["Job ID"]]
            job["wall_s"] = round((event["Completion Time"] - job["start"]) / 1000, 3)
        elif kind == "SparkListenerTaskEnd":
            job_id = stage_job.get(event.get("Stage ID", -1))
            metrics = event.get("Task Metrics") or {}
            if job_id in jobs:
                jobs[job_id]["tasks"] += 1
                jobs[job_id]["task_s"] += metrics.get("Executor Run Time", 0) / 1000
    first = min((job["start"] for job in jobs.values()), default=0)
    summary = []
    for job in sorted(jobs.values(), key=lambda j: j["job"]):
        job["start_s"] = round((job.pop("start") - first) / 1000, 3)
        job["task_s"] = round(job["task_s"], 3)
        summary.append(job)
    return summary


# --------------------------------------------------------------------------- the table


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def aggregate(name: str, kind: str, reps: list[dict[str, Any]], bench: Bench) -> dict[str, Any]:
    """Medians over the successful repetitions of one row of the table."""
    good = [r for r in reps if r.get("status") == "ok"]
    row: dict[str, Any] = {"name": name, "kind": kind, "reps": reps, "n_ok": len(good)}
    row["status"] = "ok" if good else (reps[0]["status"] if reps else "skipped")
    if not good:
        row["message"] = next((r.get("message") for r in reps if r.get("message")), None)
        return row
    row["wall_s"] = _median([r["wall_s"] for r in good])
    peaks = [r["peak_rss_mb"] for r in good if r.get("peak_rss_mb")]
    row["peak_rss_mb"] = max(peaks) if peaks else None
    steps: dict[str, list[float]] = {}
    for r in good:
        for step, value in {**r.get("job_timings_s", {}), **r.get("steps_s", {})}.items():
            steps.setdefault(step, []).append(value)
        for step, value in r.get("library_timings_s", {}).items():
            steps.setdefault(f"lib.{step}", []).append(value)
    row["steps_s"] = {step: _median(values) for step, values in steps.items()}
    if kind != "copy":
        synthetic = good[0].get("synthetic_rows") or bench.synthetic_rows
        row["synthetic_rows"] = synthetic
        row["synthetic_rows_per_s"] = round(synthetic / row["wall_s"]) if row["wall_s"] else None
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    base = {
        "cold": next((r for r in rows if r["name"] == "copy"), None),
        "warm": next((r for r in rows if r["name"] == "warm copy"), None),
    }
    for row in rows:
        ref = base["warm" if row["name"].startswith("warm") else "cold"]
        if ref and ref.get("wall_s") and row.get("wall_s"):
            row["ratio_to_copy"] = round(row["wall_s"] / ref["wall_s"], 2)


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| run | wall s (median) | ratio to copy | peak RSS MB | synthetic rows/s "
        "| read / oversample / write s | reps ok | status |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in rows:
        steps = row.get("steps_s") or {}
        split = " / ".join(_fmt(steps.get(s)) for s in ("read", "oversample", "write"))
        status = row["status"]
        if row.get("message"):
            status += f": {row['message'][:80]}"
        lines.append(
            f"| {row['name']} | {_fmt(row.get('wall_s'))} | {_fmt(row.get('ratio_to_copy'))} "
            f"| {_fmt(row.get('peak_rss_mb'), 0)} | {_fmt(row.get('synthetic_rows_per_s'), 0)} "
            f"| {split if steps else '-'} | {row['n_ok']}/{len(row['reps'])} | {status} |"
        )
    return head + "\n".join(lines) + "\n"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def spark_job_table(rows: list[dict[str, Any]]) -> str:
    """Per cold job mode, its Spark jobs of the first repetition, longest first."""
    parts = []
    for row in rows:
        rep = next((r for r in row["reps"] if r.get("spark_jobs")), None)
        if rep is None:
            continue
        jobs = sorted(rep["spark_jobs"], key=lambda j: -j.get("wall_s", 0.0))
        busy = sum(j.get("wall_s", 0.0) for j in jobs)
        parts.append(
            f"\n{row['name']}: wall {rep['wall_s']:.1f} s, of which {busy:.1f} s in "
            f"{len(jobs)} Spark jobs\n\n| job | start s | wall s | task s | tasks | call site |\n"
            "|---|---|---|---|---|---|\n"
            + "\n".join(
                f"| {j['job']} | {j['start_s']:.1f} | {_fmt(j.get('wall_s'))} | "
                f"{j['task_s']:.1f} | {j['tasks']} | {j['call_site']} |"
                for j in jobs[:12]
            )
        )
    return "\n".join(parts)


# --------------------------------------------------------------------------- main


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The speed benchmark of issue 5.")
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument("--rows", type=int)
    parser.add_argument("--features", type=int)
    parser.add_argument("--minority-share", type=float)
    parser.add_argument("--percentage", type=float)
    parser.add_argument("--target-ratio", type=float)
    parser.add_argument("--nominal", type=int, default=0)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--skew", choices=("none", "identical", "cluster90"), default="none")
    parser.add_argument("--data-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42, help="seed of the job")
    parser.add_argument("--partitions", type=int)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["auto", "exact", "lsh"])
    parser.add_argument("--warm-modes", nargs="*", default=["auto"])
    parser.add_argument("--no-warm", action="store_true")
    parser.add_argument("--no-imblearn", action="store_true")
    parser.add_argument("--imblearn-max-rows", type=int, default=7_000_000)
    parser.add_argument("--event-log", action="store_true", help="profile cold job runs")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--conf", action="append", default=[], help="extra Spark conf k=v")
    parser.add_argument(
        "--spark-submit", default=str(Path(sys.executable).with_name("spark-submit"))
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    parser.add_argument("--data-dir", default="/tmp/smote_bench")
    parser.add_argument("--json", help="result file (default under --data-dir/results)")
    args = parser.parse_args(argv)
    preset = PRESETS.get(args.preset or "")
    if preset is None and None in (args.rows, args.features, args.minority_share):
        parser.error("give --preset, or all of --rows, --features and --minority-share")
    if args.percentage is not None and args.target_ratio is not None:
        parser.error("give --percentage or --target-ratio, not both")
    if preset is not None:
        args.rows = args.rows or preset.rows
        args.features = args.features or preset.features
        args.minority_share = args.minority_share or preset.minority_share
        if args.percentage is None and args.target_ratio is None:
            args.percentage, args.target_ratio = preset.percentage, preset.target_ratio
    if args.percentage is None and args.target_ratio is None:
        args.percentage = 100.0
    return args


def _imblearn_skip(args: argparse.Namespace, meta: dict[str, Any]) -> str | None:
    if args.no_imblearn:
        return "--no-imblearn"
    if meta["rows"] > args.imblearn_max_rows:
        return f"{meta['rows']:,} rows > --imblearn-max-rows {args.imblearn_max_rows:,}"
    # pandas' copy, imbalanced-learn's arrays and the output: about six copies of the table.
    needed = 6 * meta["rows"] * (len(meta["feature_cols"]) + len(meta["nominal_cols"]) + 1) * 8
    available = _available_bytes()
    if available is not None and needed > available / 2:
        return f"needs about {needed / 2**30:.1f} GB, {available / 2**30:.1f} GB free"
    return None


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    shape = TableShape(
        rows=args.rows,
        features=args.features,
        minority_share=args.minority_share,
        seed=args.data_seed,
        nominal=args.nominal,
        clusters=args.clusters,
        skew=args.skew,
    )
    table, meta = ensure_table(args, shape, data_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    bench = Bench(
        shape=shape,
        percentage=args.percentage,
        target_ratio=args.target_ratio,
        table=table,
        meta=meta,
        data_dir=data_dir,
        out_dir=data_dir / "out",
        log_dir=data_dir / "logs" / stamp,
        master=args.master,
        driver_memory=args.driver_memory,
        spark_submit=args.spark_submit,
        timeout=args.timeout,
        job_seed=args.seed,
        event_log=args.event_log,
        conf=args.conf,
    )
    bench.out_dir.mkdir(exist_ok=True)
    print(
        f"table {table}: {meta['rows']:,} rows ({meta['minority_rows']:,} minority), "
        f"{len(meta['feature_cols'])} doubles, {len(meta['nominal_cols'])} nominal; "
        f"{bench.synthetic_rows:,} synthetic rows; logs in {bench.log_dir}",
        flush=True,
    )

    cold: dict[str, list[dict[str, Any]]] = {"copy": [], **{m: [] for m in args.modes}}
    for rep in range(args.reps):
        cold["copy"].append(cold_copy(bench, rep))
        _progress("copy", rep, cold["copy"][-1])
        for mode in args.modes:
            if rep and cold[mode][0]["status"] != "ok":
                continue  # refused, failed or timed out once: not worth repeating
            cold[mode].append(cold_job(bench, mode, rep))
            _progress(f"job {mode}", rep, cold[mode][-1])

    rows = [aggregate("copy", "copy", cold["copy"], bench)]
    rows += [aggregate(f"job {mode}", "job", cold[mode], bench) for mode in args.modes]

    skip = _imblearn_skip(args, meta)
    if skip is None:
        outcome = imblearn_run(bench)
        _progress("imblearn", 0, outcome)
        rows.append(aggregate("imblearn (1 process)", "reference", [outcome], bench))
    else:
        rows.append({"name": "imblearn (1 process)", "kind": "reference", "reps": []})
        rows[-1].update({"n_ok": 0, "status": "skipped", "message": skip})

    if not args.no_warm and args.warm_modes:
        warm = warm_runs(bench, args.warm_modes, args.reps)
        _progress("warm session", 0, warm)
        reps = warm.get("reps", {})
        peak = warm.get("peak_rss_mb")
        for name, runs in [("copy", reps.get("copy", []))] + [
            (mode, reps.get(mode, [])) for mode in args.warm_modes
        ]:
            for r in runs:
                r["peak_rss_mb"] = peak  # one session: one peak for all its runs
            label = "warm copy" if name == "copy" else f"warm job {name}"
            row = aggregate(label, "copy" if name == "copy" else "job", runs, bench)
            if not runs:
                row.update({"status": warm["status"], "message": warm.get("log_tail", "")[-200:]})
            rows.append(row)
    add_ratios(rows)

    table_md = markdown(rows)
    profile_md = spark_job_table([r for r in rows if r["kind"] == "job"])
    result = {
        "created": stamp,
        "command": " ".join([sys.executable, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "master": args.master,
        "driver_memory": args.driver_memory,
        "table": table,
        "meta": meta,
        "percentage": args.percentage,
        "target_ratio": args.target_ratio,
        "synthetic_rows": bench.synthetic_rows,
        "reps": args.reps,
        "rows": rows,
    }
    json_path = Path(args.json) if args.json else data_dir / "results" / f"speed-{stamp}.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    json_path.with_suffix(".md").write_text(table_md + profile_md + "\n", "utf-8")
    print("\n" + table_md + profile_md)
    print(f"\nsaved {json_path} and {json_path.with_suffix('.md')}")
    return 0


def _progress(name: str, rep: int, outcome: dict[str, Any]) -> None:
    wall = outcome.get("wall_s")
    print(f"  rep {rep}: {name}: {outcome.get('status')} in {wall} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_warm":
        sys.exit(warm_worker(sys.argv[2]))
    if len(sys.argv) > 2 and sys.argv[1] == "_imblearn":
        sys.exit(imblearn_worker(sys.argv[2]))
    sys.exit(main())
