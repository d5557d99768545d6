"""The verify check: a real output passes, a tampered one fails, and the job keeps its output."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from smote_spark import oversample
from smote_spark.job import main
from smote_spark.verification import OutputVerificationError, verify_output

SMALL = pd.DataFrame(
    {
        "a": list(range(18)),
        "b": [float(v * 3 % 7) for v in range(18)],
        "name": [f"r{v}" for v in range(18)],
        "y": [0] * 12 + [1] * 6,
    }
)
PLANNED = {"1": 6}


@pytest.fixture(scope="module")
def written(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The input, and a real SMOTE output (with a marker column) written and read back."""
    source = spark.createDataFrame(SMALL)
    marked = oversample(
        source, label_col="y", input_cols=["a", "b"], k=3, seed=1, synthetic_col="synthetic"
    )
    folder = tmp_path_factory.mktemp("verify")
    marked.dataframe.write.parquet(str(folder / "marked"))
    rows = pd.read_parquet(folder / "marked")
    return {"input": source, "plain": rows.drop(columns="synthetic"), "marked": rows}


def frame(spark: SparkSession, rows: pd.DataFrame, like: DataFrame) -> DataFrame:
    columns = [*like.columns, *[c for c in rows.columns if c not in like.columns]]
    return spark.createDataFrame(rows[columns])


def test_a_real_output_passes(spark: SparkSession, written: dict[str, Any]) -> None:
    source = written["input"]
    checks = verify_output(source, frame(spark, written["plain"], source), "y", PLANNED)

    assert sorted(checks) == ["0", "1"]
    assert (checks["0"].input_rows, checks["0"].output_rows, checks["0"].extra_rows) == (12, 12, 0)
    assert (checks["1"].input_rows, checks["1"].output_rows, checks["1"].extra_rows) == (6, 12, 6)
    assert checks["0"].input_checksum == checks["0"].output_checksum
    assert checks["1"].input_checksum != checks["1"].output_checksum

    marked = frame(spark, written["marked"], source)
    assert verify_output(source, marked, "y", PLANNED, "synthetic")["1"].passed


def tamper(rows: pd.DataFrame, how: str) -> pd.DataFrame:
    original = rows.index[rows["y"] == 0][3]
    if how == "dropped":
        return rows.drop(index=original)
    if how == "duplicated":
        return pd.concat([rows, rows.loc[[original]]])
    changed = rows.copy()
    changed.loc[original, "name"] = "changed"
    return changed


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("dropped", r"class '0': 1 input row\(s\) missing or changed"),
        ("duplicated", r"class '0': 1 row\(s\) beyond the input where 0 synthetic row\(s\) were"),
        ("changed", r"class '0': 1 input row\(s\) missing or changed, 1 row\(s\) beyond the"),
    ],
)
def test_a_tampered_output_fails(
    spark: SparkSession, written: dict[str, Any], how: str, message: str
) -> None:
    source = written["input"]
    tampered = frame(spark, tamper(written["plain"], how), source)

    with pytest.raises(OutputVerificationError, match=message) as caught:
        verify_output(source, tampered, "y", PLANNED)
    assert "was not moved into place" in str(caught.value)
    assert "r3" not in str(caught.value)  # no row value in the message


def test_a_synthetic_row_short_or_extra_fails(spark: SparkSession, written: dict[str, Any]) -> None:
    source = written["input"]
    rows = written["plain"]
    short = frame(spark, rows.drop(index=rows.index[rows["y"] == 1][-1]), source)

    with pytest.raises(OutputVerificationError, match=r"class '1': 5 row\(s\) beyond the input "):
        verify_output(source, short, "y", PLANNED)
    with pytest.raises(OutputVerificationError, match=r"class '1': 6 row\(s\) beyond .* 7 synth"):
        verify_output(source, frame(spark, rows, source), "y", {1: 7})


def test_a_marker_on_the_wrong_row_fails(spark: SparkSession, written: dict[str, Any]) -> None:
    source = written["input"]
    rows = written["marked"].copy()
    rows.loc[rows.index[rows["synthetic"]][0], "synthetic"] = False

    with pytest.raises(OutputVerificationError, match=r"1 extra row\(s\) marked as original"):
        verify_output(source, frame(spark, rows, source), "y", PLANNED, "synthetic")


def test_a_missing_column_fails(spark: SparkSession, written: dict[str, Any]) -> None:
    source = written["input"]
    output = frame(spark, written["plain"], source).drop("name")

    with pytest.raises(OutputVerificationError, match=r"lacks the column\(s\) \['name'\]"):
        verify_output(source, output, "y", PLANNED)


# ---------------------------------------------------------------------------------------------
# In the job: verified in the hidden location, then moved in


def small_csv(tmp_path: Path) -> str:
    path = tmp_path / "small.csv"
    SMALL.to_csv(path, index=False)
    return str(path)


def test_job_verify_passes_and_reports(tmp_path: Path) -> None:
    argv = ["--input", small_csv(tmp_path), "--output", str(tmp_path / "out"), "--label", "y"]
    argv += ["--features", "a,b", "--k", "3", "--seed", "1", "--target-counts", "1=10"]

    assert main([*argv, "--verify"]) == 0

    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["counts_after"] == {"0": 12, "1": 10}
    assert report["verification"]["passed"] is True
    assert report["verification"]["classes"]["1"]["synthetic_rows"] == 4
    assert report["verification"]["classes"]["1"]["planned_synthetic"] == 4
    assert report["verification"]["classes"]["0"]["output_rows"] == 12
    assert "verify" in report["job_timings_s"]


def dropping_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in for the library that loses one input row but reports none lost."""

    def oversample(df: DataFrame, settings: Any) -> Any:
        report = {"minority_label": 1, "counts_before": {"0": 12, "1": 6}, "seed": 1}
        report["counts_after"] = {"0": 12, "1": 6}
        lossy = df.filter(F.col("a") != 4)
        return types.SimpleNamespace(dataframe=lossy, report=report, release=lambda: None)

    module = types.ModuleType("smote_spark.resampling")
    module.oversample = oversample  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "smote_spark.resampling", module)


@pytest.mark.usefixtures("spark")
def test_job_failed_verify_exits_one_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    dropping_library(monkeypatch)
    argv = ["--input", small_csv(tmp_path), "--output", str(tmp_path / "out"), "--label", "y"]

    assert main([*argv, "--mode", "overwrite", "--verify"]) == 1

    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "verify error: the written output does not match the run (class '0': 1 input "
        "row(s) missing or changed); it was not moved into place. Rerun the job; if this "
        "repeats, check the storage."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "small.csv"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["old.txt"]
