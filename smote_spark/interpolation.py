"""New rows on the segments between minority rows and their neighbours.

Every random choice comes from a counter-based generator (SplitMix64) keyed by the seed,
the base row's key and the child's number. So a child's neighbour and gap depend on
nothing but those three: not on partitioning, task order or the other rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_NEIGHBOUR_STREAM = np.uint64(0x6E65696768626F72)
_GAP_STREAM = np.uint64(0x67617020756E6966)
_EXTRA_STREAM = np.uint64(0x6578747261636869)
_VOTE_STREAM = np.uint64(0x766F746520746965)


# Children made in one pandas frame at most: a huge percentage streams in slices.
CHILDREN_PER_FRAME = 1_000_000


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


class Children(NamedTuple):
    """The children of a batch of base rows, one entry per child (see `draw_children`)."""

    base: np.ndarray
    neighbour: np.ndarray
    gap: np.ndarray
    stream: np.ndarray


def child_slices(
    children: np.ndarray, limit: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cut the children of base rows into slices of at most ``limit`` children.

    Yields ``(rows, first, count)``: positions of the base rows in the slice, the number of
    each one's first child in it, and how many of its children it holds. A base row with
    more than ``limit`` children spans several slices. Draws depend only on the row and
    the child number (see `draw_children`), so slicing does not change them.
    """
    children = np.asarray(children, np.int64)
    ends = np.cumsum(children)
    starts = ends - children
    for low in range(0, int(ends[-1]) if len(ends) else 0, limit):
        high = low + limit
        rows = np.flatnonzero((ends > low) & (starts < high) & (children > 0))
        first = np.maximum(low - starts[rows], 0)
        count = np.minimum(ends[rows], high) - starts[rows] - first
        yield rows, first, count


def draw_children(
    seed: int,
    keys: np.ndarray,
    children: np.ndarray,
    neighbour_counts: np.ndarray,
    first: np.ndarray | None = None,
) -> Children:
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
    first : ndarray of int, shape (n,), optional
        Number of each row's first child here (default 0): children ``first`` to
        ``first + children - 1`` are drawn (see `child_slices`).

    Returns
    -------
    Children
        ``base``: position of each child's base row in ``keys``; ``neighbour``: position, in
        its base row's neighbour list, of the child's neighbour; ``gap``: in [0, 1), the new
        point is ``base + gap * (neighbour - base)``; ``stream``: the child's own random
        word (uint64), for its further choices.
    """
    base = np.repeat(np.arange(len(keys)), children)
    starts = np.cumsum(children) - children
    child_no = np.arange(len(base)) - np.repeat(starts, children)
    if first is not None:
        child_no = child_no + np.repeat(np.asarray(first, np.int64), children)
    streams = mix64(np.repeat(_row_streams(seed, keys), children) + child_no.astype(np.uint64))
    choice = mix64(streams ^ _NEIGHBOUR_STREAM) % neighbour_counts[base].astype(np.uint64)
    gap = (mix64(streams ^ _GAP_STREAM) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return Children(base, choice.astype(np.int64), gap, streams)


def vote(streams: np.ndarray, neighbour_codes: np.ndarray) -> np.ndarray:
    """Each child's nominal values: the most frequent among its base row's neighbours.

    Parameters
    ----------
    streams : ndarray of uint64, shape (c,)
        The children's random words (`Children.stream`).
    neighbour_codes : ndarray of int, shape (c, k, m)
        The codes of the k neighbours of each child's base row, for m nominal features.

    Returns
    -------
    ndarray of int64, shape (c, m)
        Per child and feature, the code most neighbours have; a tie goes to the tied code
        with the lowest seeded score, drawn from the child's stream, the feature and the code.
    """
    codes = neighbour_codes.astype(np.int64)
    c, k, m = codes.shape
    if c == 0 or m == 0:
        return np.empty((c, m), np.int64)
    # How many of the k neighbours share each neighbour's code, per feature: (c, k, m).
    votes = (codes[:, :, None, :] == codes[:, None, :, :]).sum(axis=2)
    winners = votes == votes.max(axis=1, keepdims=True)
    feature = np.arange(m, dtype=np.uint64) << np.uint64(32)
    words = (codes.astype(np.uint64) | feature[None, None, :]) ^ _VOTE_STREAM
    scores = mix64(mix64(words) ^ streams.astype(np.uint64)[:, None, None])
    scores = np.where(winners, scores, np.iinfo(np.uint64).max)
    pick = scores.argmin(axis=1)[:, None, :]
    return np.take_along_axis(codes, pick, axis=1)[:, 0, :]


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
