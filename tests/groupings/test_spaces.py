"""The common label space of a search with groupings (tuner.groupings._spaces)."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.data import Grouping
from tuner.groupings import common_accuracy, common_grouping


def test_merging_classes_alone_never_raises_the_common_objective():
    """For any model's predictions, scoring after merging classes by any candidate grouping
    gives the same common-space accuracy as scoring the fine predictions: the objective can
    only move when the model itself gets better."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(3, 12))
        classes = [f"c{i}" for i in range(n)]
        candidates = []
        for _g in range(int(rng.integers(1, 4))):
            members = rng.choice(n, size=int(rng.integers(2, n)), replace=False)
            candidates.append(Grouping(f"g{_g}", {f"G{_g}": tuple(classes[i] for i in members)}))
        common = common_grouping(classes, candidates)
        fine_to_common = np.asarray(common.remap(classes).mapping)
        confusion = rng.integers(0, 20, size=(n, n))
        fine_score = common_accuracy(confusion, fine_to_common)
        for g in candidates:
            remap = g.remap(classes)
            m = np.asarray(remap.mapping)
            grouped = np.zeros((remap.num_classes, remap.num_classes), dtype=np.int64)
            np.add.at(grouped, (m[:, None].repeat(n, 1), m[None, :].repeat(n, 0)), confusion)
            to_common = np.zeros(remap.num_classes, dtype=np.int64)
            to_common[m] = fine_to_common
            assert common_accuracy(grouped, to_common) == pytest.approx(fine_score)
            # Plain accuracy, by contrast, rises by merging alone: what the common space prevents.
            assert np.trace(grouped) / grouped.sum() >= np.trace(confusion) / confusion.sum()
