"""Pictures of a run: valid PNG files, a correct projection, a clear error without matplotlib."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from sklearn.decomposition import PCA

from smote_spark import oversample
from smote_spark.job import main
from smote_spark.pictures import PlotsUnavailableError, project_2d, write_pictures

SMALL = pd.DataFrame(
    {
        "a": list(range(18)),
        "b": [float(v * 3 % 7) for v in range(18)],
        "c": [float(v % 5) ** 2 for v in range(18)],
        "name": [f"r{v}" for v in range(18)],
        "y": [0] * 12 + [1] * 6,
    }
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk of a PNG file, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data[-8:-4] == b"IEND"
    return width, height


def test_pictures_are_png_files(spark: SparkSession, tmp_path: Path) -> None:
    # No marker column: the synthetic rows are found as the rows beyond the input.
    source = spark.createDataFrame(SMALL)
    result = oversample(source, label_col="y", k=3, seed=2)

    written = write_pictures(source, result.dataframe, "y", tmp_path / "pics", max_points=4)

    assert written == {
        "class_counts": tmp_path / "pics" / "class_counts.png",
        "minority_pca": tmp_path / "pics" / "minority_pca.png",
    }
    assert png_size(written["class_counts"]) == (600, 400)
    assert png_size(written["minority_pca"]) == (600, 500)


def test_projection_matches_scikit_learn_pca() -> None:
    generator = np.random.default_rng(0)
    original = generator.normal(size=(50, 4)) * [1.0, 10.0, 0.1, 3.0]
    synthetic = generator.normal(size=(7, 4))

    first, second = project_2d(original, synthetic)

    standard = (original - original.mean(axis=0)) / original.std(axis=0)
    reference = PCA(n_components=2).fit(standard)
    expected_first = reference.transform(standard)
    expected_second = reference.transform(
        (synthetic - original.mean(axis=0)) / original.std(axis=0)
    )
    signs = np.sign((first * expected_first).sum(axis=0))  # each axis is defined up to sign
    np.testing.assert_allclose(first * signs, expected_first, atol=1e-9)
    np.testing.assert_allclose(second * signs, expected_second, atol=1e-9)


def test_without_matplotlib_the_error_says_what_to_install(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    source = spark.createDataFrame(SMALL)

    with pytest.raises(PlotsUnavailableError, match=r"pip install 'smote-spark\[plots\]'"):
        write_pictures(source, source, "y", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_job_without_matplotlib_exits_two_before_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    source = tmp_path / "small.csv"
    SMALL.to_csv(source, index=False)
    argv = ["--input", str(source), "--output", str(tmp_path / "out"), "--report", "pics"]

    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "config error: report_dir: pictures need matplotlib, which is not installed; run "
        "pip install 'smote-spark[plots]' or leave --report out."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.csv"]


@pytest.mark.usefixtures("spark")
def test_job_report_flag_writes_the_pictures(tmp_path: Path) -> None:
    source = tmp_path / "small.csv"
    SMALL.to_csv(source, index=False)
    argv = ["--input", str(source), "--output", str(tmp_path / "out"), "--label", "y"]
    argv += ["--k", "3", "--seed", "4", "--exclude", "name", "--synthetic-col", "synthetic"]

    assert main([*argv, "--report", str(tmp_path / "pics")]) == 0

    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == [
        "class_counts.png",
        "minority_pca.png",
    ]
    assert png_size(tmp_path / "pics" / "minority_pca.png") == (600, 500)
    report = json.loads((tmp_path / "out.report.json").read_text())
    assert report["pictures"] == str(tmp_path / "pics")
    assert "pictures" in report["job_timings_s"]
