"""Downstream fidelity: the same classifiers trained on our SMOTE output and on imbalanced-learn's.

For every data set and seed s: a stratified 70/30 train/test split (seed s); the train part
is oversampled by smote_spark (seed s, exact or LSH as `neighbour_mode` says) and by
imbalanced-learn's `SMOTE` (random_state s), both with k = 5 and to the same minority count
(by default the majority's count: a balanced train set); a logistic regression (standardised
features) and a random forest (random_state s) are fitted on each and scored on the untouched
test part: ROC-AUC and the minority class's F1 (threshold 0.5). The table gives the means over
the seeds and ours - imbalanced-learn's.

Features are numeric only and cast to double before oversampling, so neither side rounds
(smote_spark rounds integer columns, imbalanced-learn does not). `--noise-floor` adds the same
comparison between imbalanced-learn with seed s and with seed s + 1000: the difference that
the oversampler's randomness alone makes.

Usage (from the repository root, with the test extras installed):

    python bench/downstream.py [--seeds 5] [--datasets blood adult census]
        [--percentage P] [--neighbour-mode auto|exact|lsh] [--noise-floor] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import imblearn.over_sampling
import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from sklearn.base import ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from smote_spark import oversample

DATA = Path(__file__).resolve().parents[1] / "data"
K = 5
TEST_SIZE = 0.3
OTHER_SEED = 1000
TOLERANCE = 0.01

Arrays = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Dataset:
    """A labelled table: which file, which label value is the minority, which features."""

    name: str
    file: str
    label: str
    minority: Any
    features: tuple[str, ...]


DATASETS = {
    "blood": Dataset(
        "blood transfusion",
        "blood_transfusion.csv",
        "Class",
        1,
        ("Recency", "Frequency", "Monetary", "Time"),
    ),
    # The six integer columns less the unnamed index; the file has no fnlwgt.
    "adult": Dataset(
        "adult (numeric)",
        "adult.csv.gz",
        "income",
        " >50K",
        ("age", "education-num", "capital-gain", "capital-loss", "hours-per-week"),
    ),
    # The quantities among the 13 numeric columns. Left out: instance_weight (a survey
    # weight), industry_code and occupation_code (category codes),
    # own_business_or_self_employed and veterans_benefits (coded answers 0/1/2) and year.
    "census": Dataset(
        "census-income (numeric)",
        "census_income_kdd.csv.gz",
        "income",
        "gt_50k",
        (
            "age",
            "wage_per_hour",
            "capital_gains",
            "capital_losses",
            "dividends_from_stocks",
            "num_persons_worked_for_employer",
            "weeks_worked_in_year",
        ),
    ),
}


def load(dataset: Dataset, rows: int | None = None, seed: int = 0) -> Arrays:
    """Features as doubles and the label as 1 (minority) / 0; a stratified sample if ``rows``."""
    table = pd.read_csv(DATA / dataset.file, usecols=[*dataset.features, dataset.label])
    x = table[list(dataset.features)].to_numpy(np.float64)
    y = (table[dataset.label] == dataset.minority).to_numpy(np.int64)
    if rows is not None and rows < len(y):
        x, _, y, _ = train_test_split(x, y, train_size=rows, stratify=y, random_state=seed)
    return x, y


def ours(
    spark: SparkSession, x: np.ndarray, y: np.ndarray, target: int, seed: int, **params: Any
) -> Arrays:
    """smote_spark's output for (x, y), the minority (1) brought to ``target`` rows."""
    names = [f"x{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names).assign(y=y)
    minority = int(y.sum())
    percentage = 100.0 * (target - minority) / minority
    result = oversample(
        spark.createDataFrame(frame),
        label_col="y",
        minority_label=1,
        input_cols=names,
        percentage=percentage,
        k=K,
        seed=seed,
        **params,
    )
    out = result.dataframe.toPandas()
    result.release()
    if int(out["y"].sum()) != target:
        raise RuntimeError(f"smote_spark made {int(out['y'].sum())} minority rows, not {target}")
    return out[names].to_numpy(np.float64), out["y"].to_numpy(np.int64)


def reference(x: np.ndarray, y: np.ndarray, target: int, seed: int) -> Arrays:
    """imbalanced-learn's output for (x, y), the minority (1) brought to ``target`` rows."""
    sampler = imblearn.over_sampling.SMOTE(
        sampling_strategy={1: target}, k_neighbors=K, random_state=seed
    )
    x_out, y_out = sampler.fit_resample(x, y)
    return np.asarray(x_out), np.asarray(y_out)


def logistic_regression(seed: int) -> ClassifierMixin:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))


def random_forest(seed: int) -> ClassifierMixin:
    return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=2)


CLASSIFIERS: dict[str, Callable[[int], ClassifierMixin]] = {
    "logistic regression": logistic_regression,
    "random forest": random_forest,
}


def score(model: Any, train: Arrays, test: Arrays) -> tuple[float, float]:
    """ROC-AUC and minority-class F1 on ``test`` of ``model`` fitted on ``train``."""
    model.fit(*train)
    x_test, y_test = test
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    f1 = f1_score(y_test, model.predict(x_test), pos_label=1)
    return float(auc), float(f1)


def target_count(y: np.ndarray, percentage: float | None) -> int:
    """Minority rows after oversampling: the majority's count, or n + round(n * P / 100)."""
    minority = int(y.sum())
    if percentage is None:
        return len(y) - minority
    return minority + int(np.floor(minority * percentage / 100.0 + 0.5))


def one_seed(
    spark: SparkSession,
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    classifiers: dict[str, Callable[[int], ClassifierMixin]],
    percentage: float | None = None,
    noise_floor: bool = False,
    **params: Any,
) -> dict[tuple[str, str], tuple[float, float]]:
    """(classifier, sampler) -> (AUC, F1) for one split, oversampling and classifier seed."""
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    target = target_count(y_train, percentage)
    samples = {
        "ours": ours(spark, x_train, y_train, target, seed, **params),
        "imblearn": reference(x_train, y_train, target, seed),
    }
    if noise_floor:
        samples["imblearn_other"] = reference(x_train, y_train, target, seed + OTHER_SEED)
    return {
        (name, sampler): score(make(seed), train, (x_test, y_test))
        for name, make in classifiers.items()
        for sampler, train in samples.items()
    }


def compare(
    spark: SparkSession,
    x: np.ndarray,
    y: np.ndarray,
    seeds: list[int],
    classifiers: dict[str, Callable[[int], ClassifierMixin]] = CLASSIFIERS,
    **options: Any,
) -> dict[str, dict[str, float]]:
    """Per classifier: mean AUC and F1 over ``seeds`` for each sampler, and the differences.

    ``auc_diff`` is ours - imbalanced-learn's; ``auc_floor`` (with ``noise_floor=True``) is
    imbalanced-learn's with another seed - imbalanced-learn's; likewise for F1.
    """
    runs = [one_seed(spark, x, y, seed, classifiers, **options) for seed in seeds]
    samplers = sorted({sampler for _, sampler in runs[0]})
    table = {}
    for name in classifiers:
        row = {}
        for sampler in samplers:
            means = np.mean([run[(name, sampler)] for run in runs], axis=0)
            row[f"auc_{sampler}"], row[f"f1_{sampler}"] = float(means[0]), float(means[1])
        for metric in ("auc", "f1"):
            row[f"{metric}_diff"] = row[f"{metric}_ours"] - row[f"{metric}_imblearn"]
            if "imblearn_other" in samplers:
                row[f"{metric}_floor"] = row[f"{metric}_imblearn_other"] - row[f"{metric}_imblearn"]
        table[name] = row
    return table


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table; floor columns only when they were measured."""
    floor = "auc_floor" in rows[0]
    header = ["dataset", "classifier", "AUC ours", "AUC imblearn", "diff"]
    header += ["F1 ours", "F1 imblearn", "diff"] + (["AUC floor", "F1 floor"] if floor else [])
    header += ["within 0.01"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["dataset"], row["classifier"]]
        keys = ["auc_ours", "auc_imblearn", "auc_diff", "f1_ours", "f1_imblearn", "f1_diff"]
        keys += ["auc_floor", "f1_floor"] if floor else []
        cells += [
            f"{row[key]:+.4f}" if key.endswith(("diff", "floor")) else f"{row[key]:.4f}"
            for key in keys
        ]
        within = abs(row["auc_diff"]) <= TOLERANCE and abs(row["f1_diff"]) <= TOLERANCE
        cells.append("yes" if within else "no")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def session() -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("smote-spark-downstream")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--percentage", type=float, help="SMOTE percentage (default: balance)")
    parser.add_argument("--neighbour-mode", default="auto", choices=["auto", "exact", "lsh"])
    parser.add_argument("--noise-floor", action="store_true", help="imblearn vs imblearn too")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()

    spark = session()
    rows = []
    start = time.perf_counter()
    try:
        for key in args.datasets:
            dataset = DATASETS[key]
            x, y = load(dataset)
            table = compare(
                spark,
                x,
                y,
                list(range(args.seeds)),
                percentage=args.percentage,
                noise_floor=args.noise_floor,
                neighbour_mode=args.neighbour_mode,
            )
            rows += [{"dataset": dataset.name, "classifier": c, **r} for c, r in table.items()]
            print(f"{dataset.name}: done at {time.perf_counter() - start:.0f} s", file=sys.stderr)
    finally:
        spark.stop()
    print(markdown(rows))
    print(f"\n{args.seeds} seeds, wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        settings = {**vars(args), "json": str(args.json), "k": K, "test_size": TEST_SIZE}
        datasets = {key: asdict(DATASETS[key]) for key in args.datasets}
        args.json.write_text(
            json.dumps({"settings": settings, "datasets": datasets, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
