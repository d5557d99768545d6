"""The numpy kernels: seeded draws, interpolation and the exact neighbour search."""

from __future__ import annotations

import numpy as np
import pytest

from smote_spark.interpolation import child_slices, draw_children, interpolate, mix64, vote
from smote_spark.neighbours import nearest_neighbours


def test_mix64_matches_splitmix64_reference_values():
    # SplitMix64 seeded with 0 yields these first outputs (its state advances by the constant).
    states = np.array([0, 0x9E3779B97F4A7C15], dtype=np.uint64)
    assert [hex(int(v)) for v in mix64(states)] == ["0xe220a8397b1dcdaf", "0x6e789e6aa1b965f4"]


def test_each_row_gets_its_children_with_gaps_in_unit_interval():
    keys = np.array([-5, 3, 10**15], dtype=np.int64)
    children = np.array([2, 0, 3])
    base, choice, gap, _ = draw_children(7, keys, children, np.array([5, 5, 2]))

    assert base.tolist() == [0, 0, 2, 2, 2]
    assert ((choice >= 0) & (choice < np.array([5, 5, 5, 5, 2])[base])).all()
    assert ((gap >= 0) & (gap < 1)).all()


def test_draws_depend_on_the_row_and_seed_only():
    keys = np.arange(100, dtype=np.int64) * 7919
    children = np.full(100, 2)
    counts = np.full(100, 5)
    _, choice, gap, _ = draw_children(1, keys, children, counts)
    _, choice_part, gap_part, _ = draw_children(1, keys[50:], children[50:], counts[50:])
    _, _, other_gap, _ = draw_children(2, keys, children, counts)

    assert np.array_equal(choice[100:], choice_part) and np.array_equal(gap[100:], gap_part)
    assert not np.array_equal(gap, other_gap)
    # Roughly uniform: every neighbour is chosen, gaps spread over [0, 1).
    assert set(choice.tolist()) == {0, 1, 2, 3, 4}
    assert 0.4 < gap.mean() < 0.6


def test_interpolate_is_on_the_segment():
    base = np.array([[0.0, 10.0], [1.0, 1.0]])
    neighbour = np.array([[2.0, 20.0], [1.0, 1.0]])
    new = interpolate(base, neighbour, np.array([0.25, 0.9]))

    assert new.tolist() == [[0.5, 12.5], [1.0, 1.0]]


@pytest.mark.parametrize("k", [1, 3, 9])
def test_nearest_neighbours_equal_brute_force_with_duplicates(k):
    rng = np.random.default_rng(4)
    points = np.vstack([rng.normal(size=(30, 4)), np.zeros((3, 4))])
    keys = np.arange(len(points), dtype=np.int64) * 11
    positions, distances = nearest_neighbours(points, keys, k)
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)

    assert positions.shape == (33, k)
    assert not (positions == np.arange(33)[:, None]).any()
    np.testing.assert_allclose(distances, np.sort(d, axis=1)[:, :k])
    # The three identical rows are each other's nearest, at distance 0, ties by key.
    assert positions[30, : min(k, 2)].tolist() == [31, 32][:k] and distances[30, 0] == 0


def _brute_force(points, keys, k):
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    order = np.lexsort((np.broadcast_to(keys, d.shape), d), axis=1)[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.mark.parametrize(
    "name",
    [
        "gaussian",
        "ten copies of each row",
        "far from the origin",
        "all identical",
        "few values",
        "zeros of both signs",
        "some rows with k copies, some with fewer",
        "a tight cluster and far rows",
    ],
)
def test_nearest_neighbours_are_the_exact_k_nearest_with_ties_by_key(name):
    rng = np.random.default_rng(11)
    points = {
        "gaussian": rng.normal(size=(5000, 7)),
        "ten copies of each row": np.repeat(rng.integers(0, 3, (500, 3)).astype(float), 10, 0),
        "far from the origin": 1e6 + rng.normal(size=(3000, 5)),
        "all identical": np.ones((600, 4)),
        "few values": rng.integers(0, 5, size=(5000, 2)).astype(float),
        # 0.0 and -0.0 are at distance 0: copies, whatever their bits.
        "zeros of both signs": rng.choice([0.0, -0.0, 1.0], size=(3000, 2)),
        # Most rows within 1e-3 of a point, a few far away.
        "a tight cluster and far rows": np.vstack(
            [1.5 + rng.normal(0, 1e-3, size=(1800, 20)), rng.normal(0, 1.5, size=(200, 20))]
        ),
        "some rows with k copies, some with fewer": rng.permutation(
            np.vstack(
                [
                    rng.normal(size=(1000, 3)),
                    np.repeat(rng.normal(size=(50, 3)), 6, axis=0),
                    np.repeat(rng.normal(size=(50, 3)), 5, axis=0),
                    np.repeat(rng.normal(size=(50, 3)), 2, axis=0),
                ]
            )
        ),
    }[name]
    # Unsorted-looking but ascending keys, as the class's hashed keys are.
    keys = np.sort(rng.choice(10**12, len(points), replace=False))
    expected_positions, expected_distances = _brute_force(points, keys, 5)

    positions, distances = nearest_neighbours(points, keys, 5)

    # The same rows in the same order: exact distances, equal ones by key, whatever the
    # rounding of the matrix product that found the candidates.
    assert (positions == expected_positions).all()
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)


def test_nearest_neighbours_of_some_rows_equal_those_of_the_whole_search():
    rng = np.random.default_rng(12)
    points = rng.normal(size=(6000, 4))
    keys = np.arange(len(points), dtype=np.int64)
    queries = np.array([5999, 0, 4100, 17])

    some, some_distances = nearest_neighbours(points, keys, 3, queries)
    everything, all_distances = nearest_neighbours(points, keys, 3)

    assert (some == everything[queries]).all()
    assert (some_distances == all_distances[queries]).all()


def test_vote_is_the_most_frequent_code_per_feature():
    # Two children, k = 5 neighbours, two nominal features: (c, k, m) codes.
    codes = np.array(
        [
            [[2, 0], [2, 1], [1, 1], [2, 0], [0, 0]],  # feature 0: 2 thrice; feature 1: 0 thrice
            [[4, 3], [4, 3], [4, 3], [4, 3], [4, 3]],  # constant: stays constant
        ]
    )
    streams = np.array([11, 12], dtype=np.uint64)

    assert vote(streams, codes).tolist() == [[2, 0], [4, 3]]
    # No nominal feature, or no child: empty answers of the right shape.
    assert vote(streams, codes[:, :, :0]).shape == (2, 0)
    assert vote(streams[:0], codes[:0]).shape == (0, 2)


def test_vote_ties_depend_on_the_stream_only():
    # Codes 1 and 5 have two votes each, code 0 one: the winner is 1 or 5, never 0.
    one = np.array([[[1], [5], [0], [5], [1]]])
    many = np.repeat(one, 200, axis=0)
    streams = mix64(np.arange(200, dtype=np.uint64))
    winners = vote(streams, many)[:, 0]

    assert set(winners.tolist()) == {1, 5}
    # Same stream, same winner, whatever the order of the neighbours or the batch.
    assert np.array_equal(vote(streams, many[:, ::-1]), vote(streams, many))
    assert np.array_equal(vote(streams[50:], many[50:])[:, 0], winners[50:])


def test_children_drawn_in_slices_equal_those_drawn_at_once():
    keys = np.array([5, -3, 99, 7], dtype=np.int64)
    children = np.array([3, 0, 11, 4])
    counts = np.array([5, 5, 2, 1])
    whole = draw_children(8, keys, children, counts)

    parts = []
    for rows, first, count in child_slices(children, 4):
        assert count.sum() <= 4
        drawn = draw_children(8, keys[rows], count, counts[rows], first)
        parts.append((rows[drawn.base], drawn.neighbour, drawn.gap, drawn.stream))

    # Row 2's 11 children span three slices; every child is drawn once, the same.
    base, neighbour, gap, stream = (np.concatenate(x) for x in zip(*parts, strict=True))
    assert (base == whole.base).all() and (neighbour == whole.neighbour).all()
    assert (gap == whole.gap).all() and (stream == whole.stream).all()
