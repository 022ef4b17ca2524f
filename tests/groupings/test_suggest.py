"""Suggested groupings and the report's confusion order come from one tree."""

from __future__ import annotations

import numpy as np

from tuner.groupings import suggest_grouping


def test_every_suggested_group_is_one_block_of_the_reports_order():
    """The report orders its confusion matrix by the tree suggestions cut (one tree, not a
    scipy one for the report and a scikit-learn one for suggestions that could disagree)."""
    from tuner.report import cluster_order

    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(4, 14))
        confusion = rng.integers(0, 30, size=(n, n)) + np.diag(rng.integers(20, 80, size=n))
        if rng.random() < 0.5:  # ties: blocks of equal rates
            confusion = (confusion // 10) * 10
        order = cluster_order(confusion)
        position = {c: i for i, c in enumerate(order)}
        names = [f"c{i}" for i in range(n)]
        for k in range(2, n):
            suggested = suggest_grouping(confusion, names, k)
            labels = len(suggested.grouping.groups) + n - sum(len(m) for m in suggested.grouping.groups.values())
            assert labels == k
            for members in suggested.grouping.groups.values():
                spots = sorted(position[names.index(m)] for m in members)
                assert spots == list(range(spots[0], spots[0] + len(spots))), (confusion.tolist(), k, members, order)
