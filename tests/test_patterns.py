"""Patterns as groups: counts, shapes and bad input."""
import numpy as np
import pytest

from solvers.core.patterns import group_violations, make_pattern, select_top


@pytest.mark.parametrize("name, sparsity, keep, n_groups, size", [
    ("per-row", 0.5, 6, 4, 12), ("per-row", 0.6, 5, 4, 12), ("per-layer", 0.5, 24, 1, 48),
    ("2:4", None, 2, 12, 4), ("3:6", 0.9, 3, 8, 6),
])
def test_group_structure(name, sparsity, keep, n_groups, size):
    pattern = make_pattern(name, (4, 12), sparsity)
    assert (pattern.keep, pattern.groups.shape) == (keep, (n_groups, size))
    assert np.array_equal(np.sort(pattern.groups.ravel()), np.arange(48))
    mask = select_top(np.random.default_rng(0).random((4, 12)), pattern)
    assert group_violations(mask, pattern).size == 0


def test_nm_groups_are_consecutive_inputs_of_one_row():
    pattern = make_pattern("2:4", (2, 8), None)
    assert pattern.groups[1].tolist() == [4, 5, 6, 7] and pattern.groups[2].tolist() == [8, 9, 10, 11]
    assert pattern.row_groups().tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]


@pytest.mark.parametrize("name, sparsity, message", [
    ("per-row", 0.0, "sparsity"), ("per-row", 1.0, "sparsity"), ("per-row", float("nan"), "sparsity"),
    ("per-row", 0.01, "nothing"), ("2:3", None, "divisible"), ("3:2", None, "0 < N < M"),
    ("a:b", None, "malformed"), ("per-column", 0.5, "unknown pattern"),
])
def test_bad_patterns(name, sparsity, message):
    with pytest.raises(ValueError, match=message):
        make_pattern(name, (4, 8), sparsity)


@pytest.mark.parametrize("k", [0, 1, 3, 8])
def test_keep_rows_top_k_selects_exactly_the_k_largest_per_row_even_with_ties(k):
    from solvers.core.arrays import keep_rows_top_k

    rng = np.random.default_rng(k)
    scores = rng.standard_normal((6, 8))
    scores[1] = 1.0                                  # all tied
    scores[2, :3] = np.inf                           # fixed to keep
    scores[3, :2], scores[3, 2:] = -np.inf, 0.5      # fixed to prune, the rest tied
    mask = keep_rows_top_k(scores, k)
    assert mask.shape == scores.shape and np.all(mask.sum(axis=1) == k)
    for row, chosen in zip(scores, mask):            # every kept score >= every dropped score
        if 0 < k < 8:
            assert row[chosen].min() >= row[~chosen].max()


def test_keep_rows_top_k_is_exact_where_float32_cannot_separate_the_scores():
    """The float32 threshold merges scores that differ by 1e-12 relative; the float64 fallback still
    returns the exact top k of every row (and the huge / tiny values float32 cannot hold)."""
    from solvers.core.arrays import COARSE_MIN_SIZE, keep_rows_top_k

    rng = np.random.default_rng(3)
    scores = 1.0 + 1e-12 * rng.standard_normal((5, 4000))
    scores[2] = rng.standard_normal(4000)
    scores[3] = rng.standard_normal(4000) * 1e300
    scores[4] = rng.standard_normal(4000) * 1e-300
    assert scores.size >= COARSE_MIN_SIZE  # the float32 path
    mask = keep_rows_top_k(scores, 1700)
    assert np.all(mask.sum(axis=1) == 1700)
    for row, chosen in zip(scores, mask):
        assert row[chosen].min() >= row[~chosen].max()
