"""New rows on the segments between minority rows and their neighbours.

Every random choice comes from a counter-based generator (SplitMix64) keyed by the seed,
the base row's key and the child's number. So a child's neighbour and gap depend on
nothing but those three: not on partitioning, task order or the other rows.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_NEIGHBOUR_STREAM = np.uint64(0x6E65696768626F72)
_GAP_STREAM = np.uint64(0x67617020756E6966)
_EXTRA_STREAM = np.uint64(0x6578747261636869)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on an array of uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        return z ^ (z >> np.uint64(31))


def _row_streams(seed: int, keys: np.ndarray) -> np.ndarray:
    seed_word = mix64(np.array([seed], dtype=np.uint64))
    return mix64(keys.astype(np.int64).view(np.uint64) ^ seed_word)


def extra_child_scores(seed: int, keys: np.ndarray) -> np.ndarray:
    """A seeded score per row; the rows with the lowest scores get the extra children."""
    return mix64(_row_streams(seed, keys) ^ _EXTRA_STREAM).view(np.int64)


def draw_children(
    seed: int, keys: np.ndarray, children: np.ndarray, neighbour_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose a neighbour and a gap for every child of every base row.

    Parameters
    ----------
    seed : int
        The run's seed.
    keys : ndarray of int64, shape (n,)
        The base rows' keys.
    children : ndarray of int, shape (n,)
        How many synthetic rows each base row makes.
    neighbour_counts : ndarray of int, shape (n,)
        How many neighbours each base row has (the first that many of its list are used).

    Returns
    -------
    base : ndarray of int, shape (m,)
        Position of each child's base row in ``keys``.
    neighbour : ndarray of int, shape (m,)
        Position, in its base row's neighbour list, of each child's neighbour.
    gap : ndarray of float64, shape (m,)
        Each child's gap in [0, 1): the new point is ``base + gap * (neighbour - base)``.
    """
    base = np.repeat(np.arange(len(keys)), children)
    starts = np.cumsum(children) - children
    child_no = np.arange(len(base)) - np.repeat(starts, children)
    streams = mix64(np.repeat(_row_streams(seed, keys), children) + child_no.astype(np.uint64))
    choice = mix64(streams ^ _NEIGHBOUR_STREAM) % neighbour_counts[base].astype(np.uint64)
    gap = (mix64(streams ^ _GAP_STREAM) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return base, choice.astype(np.int64), gap


def interpolate(base: np.ndarray, neighbour: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Points ``base + gap * (neighbour - base)``, one gap per row shared by all features.

    Where the difference would overflow (values of opposite sign near the float limit) it
    is taken in halves, so that new values stay finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        step = neighbour - base
        new = base + gap[:, None] * step
        wide = ~np.isfinite(step)
        if wide.any():
            half_step = gap[:, None] * (neighbour / 2.0 - base / 2.0)
            new = np.where(wide, (base + half_step) + half_step, new)
        return new
