"""Bad input, the cases the other test files do not cover: each with its exact answer.

An error is the project's exception type with a message naming the column or parameter
(from the job: exit code 2, one line on stderr, nothing written); a documented result is
checked row by row.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smote_spark import (
    ColumnTypeError,
    InvalidColumnError,
    InvalidDataError,
    InvalidParameterError,
    minority_neighbours,
    oversample,
)
from smote_spark.config import JobError, load_config
from smote_spark.encoding import fit_encoding
from smote_spark.job import main
from smote_spark.resampling import _extract, _plan_run
from smote_spark.settings import SmoteSettings


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "nothing on stderr"
    return lines[-1]


def run_job(tmp_path: Path, csv_text: str, *flags: str) -> int:
    """Write ``csv_text`` to in.csv and run the job on it to ``tmp_path / 'out'``."""
    source = tmp_path / "in.csv"
    source.write_text(csv_text, encoding="utf-8")
    return main(["--input", str(source), "--output", str(tmp_path / "out"), *flags])


def assert_nothing_written(directory: Path) -> None:
    """No output, no report and no hidden temporary sibling of ``out``."""
    assert sorted(p.name for p in directory.iterdir() if "out" in p.name) == []


def small_csv(labels: list[str]) -> str:
    rows = [f"{i},{i * 3 % 7},{label}" for i, label in enumerate(labels)]
    return "\n".join(["a,b,y", *rows]) + "\n"


# ------------------------------------------------------------------------- label nulls


def test_null_labels_are_refused(spark: SparkSession) -> None:
    data = [(float(i), 1 if i < 8 else 0 if i < 20 else None) for i in range(23)]
    df = spark.createDataFrame(data, "a double, y int")

    with pytest.raises(
        InvalidDataError,
        match=r"^label column 'y' has 3 null values; drop or fill those rows before ",
    ):
        oversample(df, label_col="y", k=3, seed=1)


@pytest.mark.parametrize("nans", [3, 30], ids=["smallest-class", "largest-class"])
def test_nan_labels_are_refused_like_nulls(spark: SparkSession, nans: int) -> None:
    # A NaN label is a missing label, not a class to oversample (nor one to balance to).
    data = [(float(i), 1.0 if i < 8 else 0.0) for i in range(20)]
    data += [(float(i), float("nan")) for i in range(nans)] + [(0.5, None)]
    df = spark.createDataFrame(data, "a double, y double")

    with pytest.raises(
        InvalidDataError,
        match=rf"^label column 'y' has 1 null and {nans} NaN values; drop or fill those rows",
    ):
        oversample(df, label_col="y", k=3, seed=1)


@pytest.mark.usefixtures("spark")
def test_job_with_null_labels_exits_two_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = ["0"] * 12 + ["1"] * 6 + [""] * 2  # empty csv cells are read as null

    assert run_job(tmp_path, small_csv(labels), "--label", "y", "--k", "3") == 2
    assert error_line(capsys) == (
        "data error: label column 'y' has 2 null values; drop or fill those rows before "
        "oversampling."
    )
    assert_nothing_written(tmp_path)


# --------------------------------------------------------------- percentage not a number


NOT_A_NUMBER = (
    "config error: smote.percentage: Input should be a valid number, unable to parse string "
    "as a number (got 'abc')."
)


def test_percentage_flag_that_is_not_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--input", "in.csv", "--output", str(tmp_path / "out"), "--percentage", "abc"]

    assert main(argv) == 2
    assert error_line(capsys) == NOT_A_NUMBER
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", NOT_A_NUMBER),
        ("'abc'", NOT_A_NUMBER),
        # YAML reads yes/no/on/off/true/false as booleans; lax parsing would make them 1 or 0.
        ("yes", "config error: smote.percentage: must be a number, not true or false (got True)."),
        ("", "config error: smote.percentage: Input should be a valid number (got None)."),
    ],
    ids=["text", "quoted", "boolean", "empty"],
)
def test_percentage_in_the_config_that_is_not_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, expected: str
) -> None:
    config = tmp_path / "job.yaml"
    output = tmp_path / "out"
    config.write_text(
        f"input: {{path: in.csv}}\noutput: {{path: {output}}}\n"
        f"smote:\n  label_col: y\n  percentage: {value}\n",
        encoding="utf-8",
    )

    assert main(["--config", str(config)]) == 2
    assert error_line(capsys) == expected
    assert not output.exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("k: true", r"smote\.k: must be a number, not true or false \(got True\)\."),
        ("seed: no", r"smote\.seed: must be a number, not true or false \(got False\)\."),
        (
            "target_counts: {1: on}",
            r"smote\.target_counts: counts must be numbers, not true or false; found \{1: True\}",
        ),
    ],
    ids=["k", "seed", "target-count"],
)
def test_numbers_in_the_config_are_never_read_from_booleans(
    tmp_path: Path, line: str, message: str
) -> None:
    config = tmp_path / "job.yaml"
    config.write_text(
        f"input: {{path: in.csv}}\noutput: {{path: out}}\nsmote:\n  label_col: y\n  {line}\n",
        encoding="utf-8",
    )

    with pytest.raises(JobError, match="^" + message):
        load_config(["--config", str(config)])


# ------------------------------------------------------------------- duplicate columns


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["a", "a", "y"], r"^the input has more than one column named \['a'\]; rename them"),
        (
            ["a", "A", "y"],
            r"^the input has columns whose names differ only in case \(\[\['A', 'a'\]\]\), "
            r"and Spark compares column names without case",
        ),
        (["a", "y", "Y"], r"differ only in case \(\[\['Y', 'y'\]\]\)"),
    ],
    ids=["same", "case-of-a-feature", "case-of-the-label"],
)
def test_duplicate_column_names_are_refused(
    spark: SparkSession, names: list[str], message: str
) -> None:
    data = [(float(i), float(i % 5), 1 if i < 8 else 0) for i in range(20)]
    df = spark.createDataFrame(data, names)

    with pytest.raises(InvalidColumnError, match=message):
        oversample(df, label_col="y", k=3, seed=1)


def test_names_that_differ_in_case_work_when_spark_compares_case(spark: SparkSession) -> None:
    data = [(float(i), float(i % 5), 1 if i < 8 else 0) for i in range(20)]
    spark.conf.set("spark.sql.caseSensitive", "true")
    try:
        df = spark.createDataFrame(data, ["a", "A", "y"])
        out = oversample(df, label_col="y", k=3, seed=1, synthetic_col="s").dataframe
        new = out.filter("s").toPandas()
    finally:
        spark.conf.unset("spark.sql.caseSensitive")

    assert list(new.columns) == ["a", "A", "y", "s"]
    assert len(new) == 8 and (new["y"] == 1).all()


@pytest.mark.usefixtures("spark")
def test_job_with_a_csv_of_repeated_column_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Spark's csv reader makes repeated header names unique by their position (a0, a2), so
    # a repeated label name is an unknown label column, named with the columns read.
    text = small_csv(["0"] * 12 + ["1"] * 6).replace("a,b,y", "y,b,y", 1)

    assert run_job(tmp_path, text, "--label", "y", "--k", "3") == 2
    assert error_line(capsys) == (
        "column error: label_col: column 'y' is not in the input; its columns are "
        "['y0', 'b', 'y2']. Set label_col to one of them."
    )
    assert_nothing_written(tmp_path)


# --------------------------------------------------------------------- column lists


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"input_cols": ["a", "y"]}, r"^input_cols: the label column 'y' cannot also be a "),
        (
            {"exclude_cols": ["a", "b"]},
            r"^input_cols: no feature column is left besides the label and exclude_cols; name ",
        ),
        (
            {"exclude_cols": ["zz"]},
            r"^exclude_cols: \['zz'\] not in the input; its columns are \['a', 'b', 'y'\]\.$",
        ),
        ({"nominal_cols": ["Zz"]}, r"^nominal_cols: \['Zz'\] not in the input; its columns "),
    ],
    ids=["label-as-feature", "no-feature-left", "unknown-excluded", "unknown-nominal"],
)
def test_column_lists_that_cannot_be_used(
    spark: SparkSession, params: dict[str, Any], message: str
) -> None:
    df = spark.createDataFrame(
        [(float(i), i % 3, i % 2) for i in range(20)], "a double, b int, y int"
    )

    with pytest.raises(InvalidColumnError, match=message):
        oversample(df, label_col="y", k=3, seed=1, **params)


def test_a_label_of_an_unusable_type(spark: SparkSession) -> None:
    df = spark.createDataFrame([(float(i), [i % 2]) for i in range(20)], "a double, t array<int>")

    with pytest.raises(
        ColumnTypeError,
        match=r"^label_col: column 't' has type array<int>; a label must be an integer, double, ",
    ):
        oversample(df, label_col="t", k=3, seed=1)


# ---------------------------------------------------------------------- many features


def test_a_thousand_feature_columns(spark: SparkSession) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 1000)), columns=[f"x{i}" for i in range(1000)])
    frame["y"] = [1] * 20 + [0] * 40
    df = spark.createDataFrame(frame)
    started = time.perf_counter()

    result = oversample(df, label_col="y", k=3, seed=1, synthetic_col="s")
    new = result.dataframe.filter("s").toPandas()

    assert time.perf_counter() - started < 60
    assert result.report["neighbour_mode"] == "exact"
    assert result.report["counts_after"] == {"1": 40, "0": 40}
    assert len(new) == 20 and (new["y"] == 1).all()
    values, minority = new.drop(columns=["y", "s"]), frame[frame["y"] == 1].drop(columns="y")
    assert np.isfinite(values.to_numpy()).all()
    assert (values >= minority.min() - 1e-12).all().all()
    assert (values <= minority.max() + 1e-12).all().all()


def mixed_frame(spark: SparkSession) -> DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=40), "b": rng.integers(0, 9, 40)})
    frame["c"] = [["p", "q", "r"][i % 3] for i in range(40)]
    frame["d"] = [i % 2 == 0 for i in range(40)]
    frame["y"] = [1] * 15 + [0] * 25
    return spark.createDataFrame(frame)


@pytest.mark.parametrize("scaling", ["none", "standard", "minmax"])
def test_long_form_statistics_equal_the_wide_ones(
    spark: SparkSession, monkeypatch: pytest.MonkeyPatch, scaling: str
) -> None:
    # Past _WIDE_STATS_COLUMNS features the class statistics are taken in long form.
    df = mixed_frame(spark)
    settings = SmoteSettings.build(label_col="y", k=3, scaling=scaling)
    _, plans, features = _plan_run(df, settings)
    rows = _extract(df, "y", 1, features, 1, plans[0].minority_rows).cache()

    wide = fit_encoding(rows, features, scaling, 1)
    monkeypatch.setattr("smote_spark.encoding._WIDE_STATS_COLUMNS", 0)
    long = fit_encoding(rows, features, scaling, 1)

    assert long.values == wide.values
    assert long.centre == pytest.approx(wide.centre, rel=1e-12)
    assert long.scale == pytest.approx(wide.scale, rel=1e-12)
    assert long.weight == pytest.approx(wide.weight, rel=1e-12)
    assert long.spread == pytest.approx(wide.spread, rel=1e-12)
    bad = rows.withColumn("_f0", F.when(F.col("_f0") > 0, F.lit(float("nan"))).otherwise(1.0))
    with pytest.raises(InvalidDataError, match=r"class 1 have null, NaN or infinite .*'a': \d"):
        fit_encoding(bad, features, scaling, 1)
    rows.unpersist()


# ---------------------------------------------------------------------------- non-ASCII


def non_ascii_frame(spark: SparkSession) -> DataFrame:
    frame = pd.DataFrame(
        {
            "größe": np.arange(30.0),
            "città": ["Zürich", "東京", "São Paulo"] * 10,
            "ключ": ["稀"] * 10 + ["häufig"] * 20,
        }
    )
    return spark.createDataFrame(frame)


@pytest.mark.parametrize("mode", ["exact", "lsh"])
def test_non_ascii_names_values_and_labels(spark: SparkSession, mode: str) -> None:
    df = non_ascii_frame(spark)

    result = oversample(
        df, label_col="ключ", k=3, seed=1, neighbour_mode=mode, synthetic_col="s", percentage=200
    )
    out = result.dataframe.toPandas()
    new = out[out["s"]]

    assert result.report["counts_after"] == {"稀": 30, "häufig": 20}
    assert list(out.columns) == ["größe", "città", "ключ", "s"]
    assert len(new) == 20 and set(new["ключ"]) == {"稀"}
    assert set(new["città"]) <= {"Zürich", "東京", "São Paulo"}
    assert new["größe"].between(0, 9).all()
    originals = out[~out["s"]].drop(columns="s")
    pd.testing.assert_frame_equal(
        originals.sort_values("größe").reset_index(drop=True),
        df.toPandas().sort_values("größe").reset_index(drop=True),
    )


@pytest.mark.usefixtures("spark")
def test_job_with_non_ascii_csv(tmp_path: Path) -> None:
    text = "größe,città,ключ\n" + "".join(
        f"{i},{['Zürich', '東京'][i % 2]},{'稀' if i < 8 else 'häufig'}\n" for i in range(20)
    )

    assert run_job(tmp_path, text, "--label", "ключ", "--k", "3", "--seed", "2") == 0
    written = pd.read_parquet(tmp_path / "out")
    assert written["ключ"].value_counts().to_dict() == {"häufig": 12, "稀": 16}
    assert set(written["città"]) == {"Zürich", "東京"}
    assert list(written.columns) == ["größe", "città", "ключ"]


# ---------------------------------------------------------------------- constant feature


@pytest.mark.parametrize("mode", ["exact", "lsh"])
@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_a_constant_feature_stays_constant_with_scaling(
    spark: SparkSession, scaling: str, mode: str
) -> None:
    frame = pd.DataFrame({"a": np.arange(30.0), "c": 5.0, "i": 7, "y": [1] * 10 + [0] * 20})
    out = oversample(
        spark.createDataFrame(frame),
        label_col="y",
        k=3,
        seed=1,
        scaling=scaling,
        neighbour_mode=mode,
        synthetic_col="s",
    ).dataframe
    new = out.filter("s").toPandas()

    assert len(new) == 10
    assert set(new["c"]) == {5.0} and set(new["i"]) == {7}
    assert new["a"].notna().all() and new["a"].between(0, 9).all()


@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_a_class_with_every_feature_constant_gives_that_point(
    spark: SparkSession, scaling: str
) -> None:
    frame = pd.DataFrame({"c": [5.0] * 10 + [1.0] * 20, "y": [1] * 10 + [0] * 20})
    result = oversample(spark.createDataFrame(frame), label_col="y", k=3, seed=1, scaling=scaling)
    rows: list[Any] = result.dataframe.filter("y = 1").collect()

    assert len(rows) == 20 and {row["c"] for row in rows} == {5.0}


def test_minority_neighbours_refuses_null_labels(spark: SparkSession) -> None:
    # The diagnostic plans the run as oversample does, so it refuses the same labels.
    data = [(float(i), 1 if i < 8 else 0 if i < 20 else None) for i in range(21)]
    with pytest.raises(InvalidDataError, match=r"^label column 'y' has 1 null values"):
        minority_neighbours(spark.createDataFrame(data, "a double, y int"), label_col="y", k=3)


def test_a_boolean_target_count_is_refused(spark: SparkSession) -> None:
    df = spark.createDataFrame([(float(i), i % 2) for i in range(20)], "a double, y int")
    with pytest.raises(
        InvalidParameterError, match=r"^target_counts: counts must be numbers, not true or false"
    ):
        oversample(df, label_col="y", target_counts={1: True})


# ------------------------------------------------- found by a new user's break test


def test_a_key_given_twice_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "job.yaml"
    config.write_text("smote:\n  k: 3\nsmote:\n  k: 4\n", encoding="utf-8")

    with pytest.raises(JobError, match=r"line 3, column 1: the key 'smote' is given twice"):
        load_config(["--config", str(config), "--input", "in.csv", "--output", "out"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1=500,1=600", r"--target-counts: class 1 is given more than once in '1=500,1=600'"),
        ("a=5, a =6", r"--target-counts: class 'a' is given more than once"),
        ("1:500", r"--target-counts: '1:500' is not LABEL=N,\.\.\. ; .*e\.g\. --target-counts 1="),
        ("=5", r"--target-counts: '=5' is not LABEL=N"),
    ],
)
def test_target_counts_flag_that_repeats_a_class_or_lacks_the_format(
    value: str, expected: str
) -> None:
    with pytest.raises(JobError, match=expected):
        load_config(["--input", "in.csv", "--output", "out", "--target-counts", value])


def test_a_yaml_boolean_for_a_text_label_says_to_quote_it(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(float(i), "NO" if i < 4 else "YES") for i in range(12)], "a double, y string"
    )

    with pytest.raises(InvalidParameterError, match=r"equal to False; .*quote it"):
        oversample(df, label_col="y", minority_label=False)


def test_a_pandas_frame_is_refused_with_what_to_do() -> None:
    from smote_spark import InputTypeError

    frame = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]})
    with pytest.raises(InputTypeError, match=r"got a pandas\.core\.frame\.DataFrame; .*"):
        oversample(frame, label_col="y")  # type: ignore[arg-type]


def test_smote_stage_values_are_checked_when_set() -> None:
    from smote_spark import SMOTE

    with pytest.raises(InvalidParameterError, match=r"Could not convert abc to float"):
        SMOTE(percentage="abc")
    stage = SMOTE(labelCol="y", k=3)
    with pytest.raises(InvalidParameterError, match=r"^k: Input should be greater"):
        stage.setK(0)
    assert stage.getK() == 3  # left as it was
    assert stage.setK(4).getK() == 4 and stage.getLabelCol() == "y"


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (["--input", "other.csv", "--label", "y"], r"holds columns .*Recency.* but this run"),
        (["--output-format", "csv"], r"cannot be read as csv|holds columns"),
    ],
    ids=["other-schema", "other-format"],
)
def test_append_of_another_schema_or_format_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second: list[str], message: str
) -> None:
    blood = Path(__file__).resolve().parents[1] / "data" / "blood_transfusion.csv"
    (tmp_path / "other.csv").write_text(small_csv(["0"] * 12 + ["1"] * 8), encoding="utf-8")
    first = ["--input", str(blood), "--label", "Class", "--output", str(tmp_path / "out")]
    assert main([*first, "--seed", "1"]) == 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())

    flags = [*first, "--mode", "append"]
    for i in range(0, len(second), 2):  # the second run's own flags replace the first's
        name = second[i]
        if name in flags:
            flags[flags.index(name) + 1] = second[i + 1]
        else:
            flags += second[i : i + 2]
    if "other.csv" in flags:
        flags[flags.index("other.csv")] = str(tmp_path / "other.csv")
    assert main(flags) == 2

    assert re.search(message, error_line(capsys))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == files


def test_a_master_spark_cannot_parse_is_a_config_error(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(small_csv(["0"] * 12 + ["1"] * 8), encoding="utf-8")
    flags = ["--input", str(source), "--output", str(tmp_path / "out"), "--label", "y"]
    done = subprocess.run(
        [sys.executable, "-m", "smote_spark.job", *flags, "--master", "local[2"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )

    assert done.returncode == 2, done.stderr[-2000:]
    assert "config error: spark.master: Spark cannot use 'local[2'" in done.stderr
    assert_nothing_written(tmp_path)
