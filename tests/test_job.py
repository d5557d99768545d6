"""Tests of the job layer: config and flags, exit codes, atomic output and the run report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pyspark
import pytest
from pyspark.sql import DataFrame, SparkSession

from smote_spark.config import JobError, load_config
from smote_spark.job import main
from smote_spark.storage import hadoop_store, write_atomically

REPO = Path(__file__).resolve().parent.parent
BLOOD = REPO / "data" / "blood_transfusion.csv"
SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"
FEATURES = ["Recency", "Frequency", "Monetary", "Time"]


def write_config(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "nothing on stderr"
    return lines[-1]


def assert_nothing_written(directory: Path, name: str = "out") -> None:
    """No output, no report and no hidden temporary sibling is left in ``directory``."""
    left = sorted(p.name for p in directory.iterdir() if name in p.name)
    assert left == []


def assert_only(directory: Path, *names: str) -> None:
    """``directory`` (the working directory of a failed run) holds ``names`` and nothing else."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


# ---------------------------------------------------------------------------------------------
# Config and flags: no Spark


MINIMAL = """
input: {path: data.csv}
output: {path: out}
smote: {label_col: y}
"""


def test_flags_override_config_keys(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "job.yaml", MINIMAL + "  \n")
    config = load_config(
        [
            "--config",
            config_path,
            "--k",
            "7",
            "--percentage",
            "250",
            "--features",
            "a, b,c",
            "--minority-label",
            "1",
            "--mode",
            "overwrite",
            "--log-level",
            "debug",
        ]
    )

    assert config.smote.k == 7
    assert config.smote.percentage == 250.0
    assert config.smote.input_cols == ["a", "b", "c"]
    assert config.smote.minority_label == 1
    assert config.smote.label_col == "y"
    assert config.output.mode == "overwrite"
    assert config.log_level == "DEBUG"


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "conf").glob("*.yaml")))
def test_bundled_configs_are_valid_and_name_bundled_data(name: str) -> None:
    config = load_config(["--config", str(REPO / "conf" / name)])

    assert config.input.path is not None and (REPO / config.input.path).exists()
    assert config.smote.seed is not None


def test_flags_alone_make_a_config() -> None:
    config = load_config(["--input", "in.csv", "--output", "out", "--label", "Class"])

    assert config.input.reader_format == "csv"
    assert config.input.reader_options == {"header": "true", "inferSchema": "true"}
    assert config.output.format == "parquet"
    assert config.output.mode == "error"
    assert config.smote.k == 5  # the default of SmoteSettings, not a copy of it


def test_flags_for_columns_classes_and_targets() -> None:
    base = ["--input", "in.csv", "--output", "out"]
    config = load_config(
        [*base, "--exclude", "id, name", "--nominal", "zip", "--classes", "1,b,2.5"]
        + ["--target-ratio", "0.5", "--scaling", "minmax"]
    )

    assert config.smote.exclude_cols == ["id", "name"]
    assert config.smote.nominal_cols == ["zip"]
    assert config.smote.classes == [1, "b", 2.5]
    assert config.smote.target_ratio == 0.5
    assert config.smote.scaling == "minmax"
    assert config.smote.balance is False
    assert load_config([*base, "--balance"]).smote.balance is True
    counts = load_config([*base, "--target-counts", "1=500, b=7, 2.5=3"]).smote.target_counts
    assert counts == {1: 500, "b": 7, 2.5: 3}


def test_switch_flags_override_the_config_both_ways(tmp_path: Path) -> None:
    text = MINIMAL.replace("{label_col: y}", "{label_col: y, balance: true}") + "verify: true\n"
    config_path = write_config(tmp_path / "job.yaml", text)

    on = load_config(["--config", config_path])
    off = load_config(["--config", config_path, "--no-verify", "--no-balance"])

    assert (on.verify, on.smote.balance) == (True, True)
    assert (off.verify, off.smote.balance) == (False, False)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--scaling", "log"], r"smote\.scaling: Input should be 'none', 'standard' or 'minmax'"),
        (["--target-ratio", "0"], r"smote\.target_ratio: Input should be greater than 0"),
        (["--target-counts", "1:500"], r"--target-counts: '1:500' is not LABEL=N"),
        (["--target-counts", "1=many"], r"smote\.target_counts\.1: Input should be .*integer"),
        (["--balance", "--percentage", "200"], r"smote: give one way to ask for rows"),
        (["--classes", "1", "--balance"], r"smote: classes cannot be combined with balance"),
        (["--exclude", "a,a"], r"smote\.exclude_cols: names \['a'\] more than once"),
    ],
    ids=["scaling", "ratio", "counts-syntax", "counts-value", "two-ways", "classes", "repeat"],
)
def test_new_flags_obey_the_settings_rules(flags: list[str], message: str) -> None:
    with pytest.raises(JobError, match=message):
        load_config(["--input", "in.csv", "--output", "out", *flags])


def test_location_flag_replaces_the_config_files_kind(tmp_path: Path) -> None:
    text = "input: {table: db.events}\noutput: {path: out}\n"
    config_path = write_config(tmp_path / "job.yaml", text)

    config = load_config(["--config", config_path, "--input", "x.parquet", "--output-table", "t"])

    assert (config.input.path, config.input.table) == ("x.parquet", None)
    assert (config.output.path, config.output.table) == (None, "t")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--input", "a", "--input-table", "t"], r"input: give exactly one of input\.path and "),
        (["--input-table", "db.t; DROP"], r"input\.table: must be \[catalog\.\]\[database\.\]"),
        (["--input-table", "`a`"], r"input\.table: must be \[catalog\.\]\[database\.\]table"),
        (["--input-table", "a.b.c.d"], r"input\.table: must be \[catalog"),
        (["--input", " "], r"input\.path: must be a path or URI, not blank"),
        (["--input", ""], r"input\.path: must be a path or URI, not blank"),
        (["--input", "a\nb"], r"input\.path: must not contain NUL or line breaks"),
        (["--input", "in.csv", "--output", "/"], r"output: path must not be a filesystem root"),
        (["--input", "in.csv", "--output", "./in.csv"], r"output: the same location as the "),
        (["--input-table", "T", "--output-table", "t"], r"output: the same location as the "),
        (["--input", "in", "--output", "in/sub"], r"output\.path: in/sub is inside the input"),
        (["--input", "out/in.csv", "--output", "./out"], r"input\.path: out/in\.csv is inside"),
        (["--input", "hdfs://n/in", "--output", "hdfs://n/in/x"], r"output\.path: .* inside"),
        (["--partition-by", " , "], r"output\.partition_by: must name at least one column"),
        (["--report", ""], r"report_dir: must be a path or URI, not blank"),
    ],
    ids=[
        "both",
        "injection",
        "backquotes",
        "four-parts",
        "blank",
        "empty",
        "newline",
        "root",
        "same-path",
        "same-table",
        "output-inside-input",
        "input-inside-output",
        "output-inside-input-uri",
        "partition",
        "report-dir",
    ],
)
def test_locations_are_validated(flags: list[str], message: str) -> None:
    defaults = {"--input": "in.csv", "--output": "out"}
    given = set(flags)
    argv = [*flags]
    for flag, value in defaults.items():
        if flag not in given and flag + "-table" not in given:
            argv += [flag, value]

    with pytest.raises(JobError, match=message):
        load_config(argv)


@pytest.mark.parametrize(
    ("path", "expected"),
    [("t.parquet", "parquet"), ("t.CSV", "csv"), ("s3a://b/t.jsonl", "json"), ("t", "parquet")],
)
def test_input_format_is_guessed_from_the_extension(path: str, expected: str) -> None:
    config = load_config(["--input", path, "--output", "out"])

    assert config.input.reader_format == expected


def test_given_reader_options_replace_the_csv_defaults() -> None:
    config = load_config(["--input", "x.csv", "--output", "o"])
    custom = config.input.model_copy(update={"options": {"Header": False, "sep": ";"}})

    assert custom.reader_options == {"inferSchema": "true", "Header": "false", "sep": ";"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL + "colour: blue\n", r"colour: unknown parameter"),
        (MINIMAL.replace("{label_col: y}", "{label_col: y, kk: 3}"), r"smote\.kk: unknown"),
        (MINIMAL.replace("{label_col: y}", "{k: many}"), r"smote\.k: Input should be .*integer"),
        (MINIMAL.replace("{path: out}", "{path: out, mode: replace}"), r"output\.mode: Input"),
        ("output: {path: out}\n", r"input: a value is required .*--input"),
        (
            "input: {format: csv}\noutput: {path: o}\n",
            r"input: give exactly one of input\.path and input\.table, found neither",
        ),
        ("input: [a, b]\noutput: {path: o}\n", r"input: Input should be .*dictionary"),
    ],
    ids=["unknown-section", "unknown-key", "wrong-type", "bad-mode", "no-input", "no-path", "list"],
)
def test_config_errors_name_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # the configs' relative output paths land here
    config_path = write_config(tmp_path / "job.yaml", text)

    assert main(["--config", config_path]) == 2
    assert re.match("config error: " + message, error_line(capsys))
    assert_only(tmp_path, "job.yaml")
    with pytest.raises(JobError, match=message):
        load_config(["--config", config_path])


def test_flag_values_obey_the_same_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["--input", "a.csv", "--output", "o", "--percentage", "-5"]

    assert main(argv) == 2
    assert error_line(capsys) == (
        "config error: smote.percentage: Input should be greater than or equal to 0 (got '-5')."
    )
    assert not (tmp_path / "o").exists()
    assert_only(tmp_path)


def test_bad_yaml_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    config_path = write_config(tmp_path / "job.yaml", "input:\n  path: [unclosed\n")

    assert main(["--config", config_path, "--output", "out"]) == 2
    assert error_line(capsys).startswith(f"config error: {config_path}: not valid YAML at line")
    assert_only(tmp_path, "job.yaml")


def test_yaml_cannot_run_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    text = "input: !!python/object/apply:os.system ['touch hacked']\noutput: {path: out}\n"
    config_path = write_config(tmp_path / "job.yaml", text)

    assert main(["--config", config_path]) == 2
    assert "not valid YAML" in error_line(capsys)
    assert_only(tmp_path, "job.yaml")  # neither "hacked" nor "out"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "job.yaml", "- input\n- output\n")

    with pytest.raises(JobError, match=r"top level must be a mapping .* found a list"):
        load_config(["--config", config_path])


def test_missing_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "nope.yaml"

    assert main(["--config", str(missing), "--output", "out"]) == 2
    assert error_line(capsys) == (
        f"config error: cannot read config file {str(missing)!r}: No such file or directory; "
        "check the --config path."
    )
    assert_only(tmp_path)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--neighbour-mode" in capsys.readouterr().out


def test_unknown_flag_exits_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["--input", "a", "--output", "out", "--kk", "3"]) == 2
    assert "unrecognized arguments: --kk" in capsys.readouterr().err
    assert_only(tmp_path)


def test_module_entry_point_reports_config_errors(tmp_path: Path) -> None:
    output = tmp_path / "o"
    done = subprocess.run(
        [sys.executable, "-m", "smote_spark.job", "--input", "a.csv", "--output", str(output)]
        + ["--k", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert done.stderr.strip() == (
        "config error: smote.k: Input should be greater than or equal to 1 (got '0')."
    )
    assert_only(tmp_path)


# ---------------------------------------------------------------------------------------------
# Locations, checked before Spark starts


def test_missing_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--input", str(tmp_path / "absent.csv"), "--output", str(tmp_path / "out")]

    assert main(argv) == 2
    assert error_line(capsys) == (
        f"input error: input.path: {tmp_path / 'absent.csv'} does not exist; check the path "
        f"(relative paths are resolved against the current directory, {os.getcwd()})."
    )
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("existing", ["out", "out.report.json"])
def test_existing_output_in_error_mode_is_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], existing: str
) -> None:
    (tmp_path / existing).write_text("keep me")
    argv = ["--input", str(BLOOD), "--output", str(tmp_path / "out"), "--label", "Class"]

    assert main(argv) == 2
    assert error_line(capsys) == (
        f"output error: output.path: {tmp_path / existing} already exists and output.mode "
        "is 'error'; remove it, choose another path, or use --mode overwrite or append."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
    assert (tmp_path / existing).read_text() == "keep me"


# ---------------------------------------------------------------------------------------------
# In-process runs on the shared session


def small_table(tmp_path: Path, **changes: Any) -> str:
    """A csv with 12 rows of class 0 and 6 of class 1, two integer features."""
    frame = pd.DataFrame(
        {
            "a": list(range(18)),
            "b": [v * 3 % 7 for v in range(18)],
            "y": [0] * 12 + [1] * 6,
        }
    )
    for column, values in changes.items():
        frame[column] = values
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    return str(path)


def run_small(tmp_path: Path, csv_path: str, *flags: str) -> int:
    output = str(tmp_path / "out")
    return main(["--input", csv_path, "--output", output, "--label", "y", "--k", "3", *flags])


@pytest.mark.usefixtures("spark")
@pytest.mark.parametrize(
    ("changes", "flags", "message"),
    [
        ({}, ["--label", "Class"], r"column error: label_col: column 'Class' is not in the input"),
        ({"y": [1] * 18}, [], r"data error: label column 'y' needs at least two classes"),
        ({}, ["--k", "6"], r"data error: k: class 1 has 6 rows, but k=6 neighbours"),
        (
            {"b": [1.0] * 15 + [None] * 3},
            [],
            r"data error: input_cols: rows of class 1 have null, NaN or infinite values .*'b'",
        ),
        (
            {"b": ["1.5"] * 15 + ["NaN"] * 3},
            [],
            r"data error: input_cols: rows of class 1 have null, NaN or infinite values .*'b'",
        ),
        (
            {"a": [f"v{v % 3}" for v in range(15)] + [None] * 3},
            [],
            r"data error: input_cols: rows of class 1 have null, NaN or infinite values .*'a'",
        ),
        ({}, ["--minority-label", "7"], r"parameter error: minority_label: no row has 'y' equal"),
    ],
    ids=["no-label", "one-class", "k-too-big", "null", "nan", "string-null", "unknown-minority"],
)
def test_data_errors_exit_two_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, Any],
    flags: list[str],
    message: str,
) -> None:
    csv_path = small_table(tmp_path, **changes)

    assert run_small(tmp_path, csv_path, *flags) == 2
    assert re.match(message, error_line(capsys))
    assert_nothing_written(tmp_path)


def test_main_leaves_the_shared_session_running(spark: SparkSession, tmp_path: Path) -> None:
    csv_path = small_table(tmp_path)

    assert run_small(tmp_path, csv_path, "--seed", "3") == 0
    assert spark.range(3).count() == 3

    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["counts_after"] == {"0": 12, "1": 12}
    assert report["job_timings_s"].keys() >= {"read", "oversample", "write", "total"}


def fake_library(monkeypatch: pytest.MonkeyPatch, make_frame: Any) -> None:
    """Stand in for `smote_spark.resampling` with a function that returns ``make_frame(df)``."""

    def oversample(df: DataFrame, settings: Any) -> Any:
        report = {"minority_label": 1, "counts_before": {}, "counts_after": {}, "seed": 1}
        return types.SimpleNamespace(dataframe=make_frame(df), report=report, release=lambda: None)

    module = types.ModuleType("smote_spark.resampling")
    module.oversample = oversample  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smote_spark.resampling", module)


def failing_frame(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as sf

    # assert_true fails inside the write job, after the temporary directory was started.
    return df.withColumn("boom", sf.assert_true(sf.col("a") < 0, "the write fails"))


@pytest.mark.usefixtures("spark")
def test_failed_write_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = small_table(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    fake_library(monkeypatch, failing_frame)

    assert run_small(tmp_path, csv_path, "--mode", "overwrite") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.csv"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]


@pytest.mark.usefixtures("spark")
def test_overwrite_replaces_output_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv_path = small_table(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    (tmp_path / "out.report.json").write_text("{}")
    fake_library(monkeypatch, lambda df: df)

    assert run_small(tmp_path, csv_path, "--mode", "overwrite", "--output-format", "csv") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.report.json", "small.csv"]
    assert not (tmp_path / "out" / "old.txt").exists()
    written = pd.concat(pd.read_csv(p) for p in (tmp_path / "out").glob("part-*.csv"))
    assert len(written) == 18
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["status"] == "succeeded"
    assert report["output"] == {"path": str(tmp_path / "out"), "format": "csv", "mode": "overwrite"}


def test_hadoop_filesystem_path_writes_atomically(spark: SparkSession, tmp_path: Path) -> None:
    # The route hdfs:// and s3a:// outputs take, exercised on Hadoop's local filesystem.
    output = (tmp_path / "out").as_uri()
    store = hadoop_store(spark, output)
    assert store is not None

    def write_data(path: str) -> None:
        spark.range(5).write.parquet(path)

    write_atomically(store, output, "error", write_data, lambda: '{"status": "succeeded"}')
    with pytest.raises(
        JobError, match=r"output\.path: .*out already exists and output\.mode is 'error'"
    ):
        write_atomically(store, output, "error", write_data, lambda: "{}")

    assert len(pd.read_parquet(tmp_path / "out")) == 5
    assert json.loads((tmp_path / "out.report.json").read_text()) == {"status": "succeeded"}
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crc")) == [
        "out",
        "out.report.json",
    ]


# ---------------------------------------------------------------------------------------------
# End to end through spark-submit (each run starts a JVM: keep these few)


def spark_submit(
    cwd: Path, *args: str, master: str = "local[2]"
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    command = [str(SPARK_SUBMIT), "--master", master, str(REPO / "jobs" / "smote_job.py")]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def row_counts(frame: pd.DataFrame) -> Counter[tuple[Any, ...]]:
    return Counter(frame[[*FEATURES, "Class"]].itertuples(index=False, name=None))


@pytest.mark.slow
def test_spark_submit_bundled_config(tmp_path: Path) -> None:
    output = tmp_path / "blood"

    done = spark_submit(REPO, "--config", "conf/blood_transfusion.yaml", "--output", str(output))

    assert done.returncode == 0, done.stderr[-3000:]
    written = pd.read_parquet(output)
    assert written["Class"].value_counts().to_dict() == {0: 570, 1: 356}
    extra = row_counts(written) - row_counts(pd.read_csv(BLOOD))
    assert sum(extra.values()) == 178  # every input row is there; the rest is synthetic
    assert {row[-1] for row in extra} == {1}

    report = json.loads(Path(f"{output}.report.json").read_text())
    assert report["counts_before"] == {"0": 570, "1": 178}
    assert report["counts_after"] == {"0": 570, "1": 356}
    assert report["synthetic_rows"] == 178
    assert report["seed"] == 42
    assert report["neighbour_mode"] in {"exact", "lsh"}
    assert report["application_id"].startswith("local-")
    assert report["input"] == {"path": str(BLOOD), "format": "csv"}
    assert report["status"] == "succeeded"
    assert report["job_timings_s"].keys() >= {"read", "oversample", "write", "total"}
    # spark-submit sends the Python driver's stderr to its own stdout.
    assert "seed 42" in done.stdout
    assert re.search(r"rows per class after: \{.*'1': 356", done.stdout)


@pytest.mark.slow
def test_spark_submit_flags_only_from_another_directory(tmp_path: Path) -> None:
    flags = ["--input", str(BLOOD), "--output", "out", "--label", "Class", "--percentage", "200"]
    marker = ["--seed", "7", "--output-format", "csv", "--synthetic-col", "synthetic"]

    done = spark_submit(tmp_path, *flags, *marker)

    assert done.returncode == 0, done.stderr[-3000:]
    written = pd.concat(pd.read_csv(p) for p in (tmp_path / "out").glob("part-*.csv"))
    assert written["Class"].value_counts().to_dict() == {0: 570, 1: 534}
    originals = written[~written["synthetic"]]
    assert row_counts(originals) == row_counts(pd.read_csv(BLOOD))
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["seed"] == 7
    assert report["counts_after"] == {"0": 570, "1": 534}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_one_core_and_two_cores_write_the_same_rows(
    spark: SparkSession, tmp_path: Path, mode: str
) -> None:
    flags = ["--input", str(BLOOD), "--label", "Class", "--percentage", "250", "--seed", "5"]
    flags += ["--neighbour-mode", mode]

    one_core = spark_submit(tmp_path, *flags, "--output", "one", master="local[1]")
    two_cores = main([*flags, "--output", str(tmp_path / "two")])  # the local[2] session

    assert one_core.returncode == 0, one_core.stdout[-3000:]
    assert two_cores == 0
    first, second = pd.read_parquet(tmp_path / "one"), pd.read_parquet(tmp_path / "two")
    assert len(first) == 570 + 178 + 445
    assert row_counts(first) == row_counts(second)


@pytest.mark.slow
def test_spark_submit_bad_data_exits_two(tmp_path: Path) -> None:
    done = spark_submit(
        tmp_path, "--input", str(BLOOD), "--output", "out", "--label", "class", "--k", "3"
    )

    assert done.returncode == 2
    # spark-submit sends the Python driver's stderr to its own stdout.
    assert (
        done.stdout.strip()
        .splitlines()[-1]
        .startswith("column error: label_col: column 'class' is not in the input")
    )
    assert_nothing_written(tmp_path)


@pytest.mark.usefixtures("spark")
def test_corrupt_input_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = tmp_path / "broken.parquet"
    corrupt.write_bytes(b"PAR1 this is not really parquet")

    assert main(["--input", str(corrupt), "--output", str(tmp_path / "out"), "--label", "y"]) == 2
    assert re.match(
        r"input error: input.path: .*broken.parquet could not be read as parquet",
        error_line(capsys),
    )
    assert_nothing_written(tmp_path)
