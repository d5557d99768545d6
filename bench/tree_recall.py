"""Recall of median-cut trees against fixed-width slabs, in numpy alone (no Spark).

Usage::

    python bench/tree_recall.py [--rows 2000000] [--leaves 2000 4000] [--tables 8 16]
        [--slab-share 0.2] [--queries 1000]

The class is drawn like ``bench/generate.py``'s minority rows: 4 seeded centres (standard
deviation 1.5) in 20 features, rows around them with standard deviation 0.5. For
``--queries`` rows, their exact 5 nearest neighbours are found by brute force; then each
table cuts the class into leaves of at most ``--leaves`` rows by median cuts along a fresh
random direction per cut (a random-projection tree, as `smote_spark.neighbours` does in
its tasks), optionally after a first fixed-width cut along one direction into slabs that
hold ``--slab-share`` of the class near the centre. A query's candidates are the rows
sharing one of its leaves; printed are recall@5, the distance ratio (mean distance to the
5 best candidates over the exact mean) and the candidates per query.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

K = 5


def leaf_ids(points: np.ndarray, parts: list[np.ndarray], cap: int, seed: int) -> np.ndarray:
    """Leaf number of every row: each part is halved at the median of a random projection
    until it holds at most ``cap`` rows."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(points), np.int64)
    label = 0
    stack = list(parts)
    while stack:
        part = stack.pop()
        if len(part) <= cap:
            out[part] = label
            label += 1
            continue
        projection = points[part] @ rng.standard_normal(points.shape[1])
        order = np.argpartition(projection, len(part) // 2)
        stack += [part[order[: len(part) // 2]], part[order[len(part) // 2 :]]]
    return out


def slabs(points: np.ndarray, share: float, seed: int) -> list[np.ndarray]:
    """Rows cut into fixed-width slabs along one random direction, the width holding about
    ``share`` of the class at its centre (as the library's old derived bucket length)."""
    rng = np.random.default_rng(seed)
    spread = float(np.sqrt(points.var(axis=0).mean()))
    width = spread * np.sqrt(2 * np.pi) * share
    slab = np.floor(points @ rng.standard_normal(points.shape[1]) / width).astype(np.int64)
    order = np.argsort(slab, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(slab[order])) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--leaves", type=int, nargs="+", default=[2000, 4000])
    parser.add_argument("--tables", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--slab-share", type=float, default=0.0)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    centres = rng.normal(0.0, 1.5, (4, 20))
    points = centres[rng.integers(0, 4, args.rows)] + 0.5 * rng.standard_normal((args.rows, 20))
    queries = rng.choice(args.rows, args.queries, replace=False)
    squares = (points * points).sum(axis=1)
    truth, truth_distance = [], []
    for start in range(0, len(queries), 50):
        block = queries[start : start + 50]
        d2 = squares[None, :] - 2 * points[block] @ points.T
        d2[np.arange(len(block)), block] = np.inf
        nearest = np.argpartition(d2, K, axis=1)[:, :K]
        truth.append(nearest)
        found = np.take_along_axis(d2, nearest, 1) + squares[block, None]
        truth_distance.append(np.sqrt(np.maximum(found, 0)))
    exact = np.vstack(truth)
    exact_mean = float(np.vstack(truth_distance).mean())

    for cap in args.leaves:
        for tables in args.tables:
            began = time.perf_counter()
            candidates: list[set[int]] = [set() for _ in queries]
            for table in range(tables):
                if args.slab_share:
                    parts = slabs(points, args.slab_share, table)
                else:
                    parts = [np.arange(args.rows)]
                leaf = leaf_ids(points, parts, cap, table)
                order = np.argsort(leaf, kind="stable")
                sorted_leaf = leaf[order]
                for i, query in enumerate(queries):
                    lo = np.searchsorted(sorted_leaf, leaf[query])
                    hi = np.searchsorted(sorted_leaf, leaf[query], side="right")
                    candidates[i].update(order[lo:hi].tolist())
            hits, chosen, sizes = 0, 0.0, 0
            for i, query in enumerate(queries):
                pool = np.fromiter((c for c in candidates[i] if c != query), np.int64)
                sizes += len(pool)
                distance = np.sqrt(((points[pool] - points[query]) ** 2).sum(axis=1))
                best = np.argsort(distance)[:K]
                hits += len(set(pool[best].tolist()) & set(exact[i].tolist()))
                chosen += float(distance[best].mean())
            print(
                f"leaves <= {cap}, {tables} tables, slab share {args.slab_share or '-'}: "
                f"recall@5 {hits / (K * len(queries)):.3f}, "
                f"distance ratio {chosen / len(queries) / exact_mean:.3f}, "
                f"candidates/query {sizes / len(queries):.0f}, "
                f"{time.perf_counter() - began:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
