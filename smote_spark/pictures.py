"""Pictures of a SMOTE run: class counts before and after, and where the new rows fall."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from smote_spark.errors import SmoteError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)

COUNTS_FILE = "class_counts.png"
PCA_FILE = "minority_pca.png"
_NUMERIC = ("byte", "short", "int", "long", "float", "double", "decimal")


class PlotsUnavailableError(SmoteError, ImportError):
    """matplotlib is not installed; install the ``plots`` extra."""


def require_matplotlib() -> Any:
    """matplotlib's pyplot on the Agg backend (files only, no display).

    Raises
    ------
    PlotsUnavailableError
        If matplotlib cannot be imported.
    """
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailableError(
            "report_dir: pictures need matplotlib, which is not installed; run "
            "pip install 'smote-spark[plots]' or leave --report out."
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_pictures(
    input_df: DataFrame,
    output_df: DataFrame,
    label_col: str,
    directory: str | Path,
    *,
    features: list[str] | None = None,
    synthetic_col: str | None = None,
    max_points: int = 2000,
    seed: int = 0,
) -> dict[str, Path]:
    """Draw the class counts and a PCA view of original and synthetic minority rows.

    Parameters
    ----------
    input_df : DataFrame
        The input of the run.
    output_df : DataFrame
        Its output: the input rows and the synthetic rows.
    label_col : str
        The class label column.
    directory : str or Path
        A local directory; created if needed. Existing pictures are replaced.
    features : list of str, optional
        Feature columns; the numeric ones are projected. Default: every numeric column
        but the label.
    synthetic_col : str, optional
        The marker column of synthetic rows, if the output has one; else the synthetic rows
        are found as the output rows beyond the input rows (``exceptAll``).
    max_points : int
        At most this many original and this many synthetic rows are drawn (a seeded sample).
    seed : int
        Seed of the sample.

    Returns
    -------
    dict of str to Path
        ``{"class_counts": ..., "minority_pca": ...}``; the PCA picture is left out when
        no class gained rows or fewer than two numeric features exist.

    Raises
    ------
    PlotsUnavailableError
        If matplotlib is not installed.

    Notes
    -----
    The projection is fitted on the sampled original rows of the oversampled classes,
    each feature standardised by its standard deviation there, so that features in large
    units do not dominate; synthetic rows are projected with the same axes. The counts
    need one aggregation per DataFrame; the samples collect at most ``2 * max_points``
    rows to the driver.
    """

    plt = require_matplotlib()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)

    before = _counts(input_df, label_col)
    after = _counts(output_df, label_col)
    written = {"class_counts": _draw_counts(plt, before, after, label_col, folder / COUNTS_FILE)}

    grown = [label for label, n in after.items() if n > before.get(label, 0)]
    numeric = _numeric_features(input_df, label_col, features)
    if not grown or len(numeric) < 2:
        logger.info(
            "no PCA picture: %d classes gained rows, %d numeric features", len(grown), len(numeric)
        )
        return written

    columns = [*input_df.columns]
    in_class = _column(label_col).isin(grown)
    originals = input_df.filter(in_class)
    if synthetic_col is not None:
        synthetic = output_df.filter(_column(synthetic_col)).select(
            *[_column(name) for name in columns]
        )
    else:
        synthetic = (
            output_df.select(*[_column(name) for name in columns])
            .filter(in_class)
            .exceptAll(originals)
        )
    n_original = sum(before[label] for label in grown)
    n_synthetic = sum(after[label] - before.get(label, 0) for label in grown)
    first = _sample(originals, numeric, n_original, max_points, seed)
    second = _sample(synthetic, numeric, n_synthetic, max_points, seed + 1)
    if len(first) < 2:
        logger.info("no PCA picture: fewer than two finite original rows to fit it on")
        return written
    written["minority_pca"] = _draw_pca(plt, first, second, folder / PCA_FILE)
    logger.info("pictures written to %s", folder)
    return written


def _counts(frame: DataFrame, label_col: str) -> dict[Any, int]:
    rows = frame.groupBy(_column(label_col)).count().collect()
    return {row[0]: int(row[1]) for row in rows}


def _numeric_features(frame: DataFrame, label_col: str, features: list[str] | None) -> list[str]:
    names = features if features is not None else [c for c in frame.columns if c != label_col]
    kinds = dict(frame.dtypes)
    return [name for name in names if kinds.get(name, "").startswith(_NUMERIC)]


def _sample(frame: DataFrame, columns: list[str], total: int, limit: int, seed: int) -> np.ndarray:

    picked = frame.select(*[_column(name).cast("double") for name in columns])
    if total > limit:
        # A little over the share wanted, then cut: the sample stays bounded and seeded.
        picked = picked.sample(fraction=min(1.0, 1.2 * limit / total), seed=seed)
    rows = picked.limit(limit).collect()
    values = np.array([list(row) for row in rows], dtype=float).reshape(-1, len(columns))
    return values[np.isfinite(values).all(axis=1)]


def _draw_counts(
    plt: Any, before: dict[Any, int], after: dict[Any, int], label_col: str, path: Path
) -> Path:
    labels = sorted(after, key=lambda label: (str(type(label)), label))
    positions = np.arange(len(labels))
    figure, axes = plt.subplots(figsize=(6, 4))
    old = axes.bar(positions - 0.2, [before.get(label, 0) for label in labels], 0.4, label="before")
    new = axes.bar(positions + 0.2, [after[label] for label in labels], 0.4, label="after")
    axes.bar_label(old)
    axes.bar_label(new)
    axes.margins(y=0.15)  # room for the labels and the legend above the tallest bar
    axes.set_xticks(positions, [str(label) for label in labels])
    axes.set_xlabel(label_col)
    axes.set_ylabel("rows")
    axes.set_title("Rows per class before and after SMOTE")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path


def project_2d(original: np.ndarray, synthetic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both samples on the first two principal axes of the standardised ``original``.

    Parameters
    ----------
    original, synthetic : ndarray of shape (n, d) and (m, d)
        Rows of numeric features; ``original`` needs at least two rows and ``d >= 2``.

    Returns
    -------
    tuple of ndarray
        Shapes (n, 2) and (m, 2).
    """
    centre = original.mean(axis=0)
    scale = original.std(axis=0)
    scale[scale == 0] = 1.0  # a constant feature adds nothing to the view, and no NaN
    standard = (original - centre) / scale
    # The right singular vectors of the centred sample are its principal axes.
    _, _, axes_t = np.linalg.svd(standard, full_matrices=False)
    project = axes_t[:2].T
    return standard @ project, ((synthetic - centre) / scale) @ project


def _draw_pca(plt: Any, original: np.ndarray, synthetic: np.ndarray, path: Path) -> Path:
    first, second = project_2d(original, synthetic)
    figure, axes = plt.subplots(figsize=(6, 5))
    axes.scatter(first[:, 0], first[:, 1], s=8, alpha=0.6, label=f"original ({len(first)})")
    if len(second):
        axes.scatter(
            second[:, 0],
            second[:, 1],
            s=8,
            alpha=0.6,
            marker="x",
            label=f"synthetic ({len(second)})",
        )
    axes.set_xlabel("PC 1")
    axes.set_ylabel("PC 2")
    axes.set_title("Oversampled classes: original and synthetic rows (PCA)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
    plt.close(figure)
    return path


def _column(name: str) -> Column:
    from pyspark.sql import functions as F

    # Backquoted, so that dots and other signs in a name are not read as syntax.
    return F.col("`" + name.replace("`", "``") + "`")
