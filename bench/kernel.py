"""The exact k-NN kernel against scikit-learn's brute force, on one core.

Usage::

    python bench/kernel.py [--rows 40000] [--features 20] [--queries 8192] [--k 5] [--reps 3]

Both search ``--queries`` rows against all ``--rows`` rows of a standard normal table with
one BLAS/OpenMP thread (as in a Spark task, where PySpark sets OMP_NUM_THREADS to 1), and
the script checks that both find neighbours at the same distances.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from smote_spark.neighbours import nearest_neighbours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--queries", type=int, default=8192)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    points = np.random.default_rng(0).normal(size=(args.rows, args.features))
    keys = np.arange(args.rows, dtype=np.int64)
    queries = np.arange(min(args.queries, args.rows))
    times: dict[str, list[float]] = {"smote_spark": [], "scikit-learn brute": []}
    with threadpool_limits(1):
        for _ in range(args.reps):
            start = time.perf_counter()
            _, ours = nearest_neighbours(points, keys, args.k, queries)
            times["smote_spark"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model = NearestNeighbors(n_neighbors=args.k + 1, algorithm="brute", n_jobs=1)
            theirs, _ = model.fit(points).kneighbors(points[queries])
            times["scikit-learn brute"].append(time.perf_counter() - start)
    # scikit-learn's first neighbour of a row is the row itself.
    same = np.allclose(ours, theirs[:, 1:], rtol=1e-9, atol=1e-9)
    print(f"{len(queries)} rows against {args.rows} x {args.features}, k={args.k}, one thread")
    for name, values in times.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:20s} median {statistics.median(values):.2f} s ({shown})")
    print(f"  same distances: {same}")


if __name__ == "__main__":
    main()
