"""Suggest a grouping from a confusion matrix: merge the classes a model cannot tell apart.

Symmetrise the row-normalised confusion rates, build one average-linkage tree on ``1 - rate``
(:func:`confusion_tree`, scipy), cut it into K labels and make every cluster of two or more
classes a group. The same function resolves ``auto:K`` candidates in a search, and the
report orders its confusion matrix by the leaves of the same tree, so the blocks it shows are
the groups a suggestion makes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tuner.data import Grouping
from tuner.errors import ConfigError

__all__ = [
    "LEARNED_P",
    "SuggestedGrouping",
    "confusion_similarity",
    "confusion_tree",
    "grouping_yaml",
    "learned_threshold",
    "suggest_grouping",
    "why_not_learned",
]

#: A confusion matrix is clustered only if its model beat chance by this significance...
LEARNED_P = 0.01


def learned_threshold(n_classes: int) -> float:
    """...and reached this balanced accuracy: 3x chance, or halfway from chance to perfect
    when 3x chance is out of reach (3 classes or fewer)."""
    chance = 1.0 / n_classes
    return min(3.0 * chance, (1.0 + chance) / 2.0)


def why_not_learned(confusion: np.ndarray) -> str | None:
    """Why a model's confusion matrix says nothing about which classes look alike, or ``None``.

    The confusions of a model at chance are noise: clustering them merges random classes.
    The rule: balanced accuracy at least :func:`learned_threshold` and a one-sided binomial
    test of the correct predictions against always answering the largest class, p < ``LEARNED_P``.
    """
    from scipy.stats import binomtest

    c = np.asarray(confusion, dtype=np.int64)
    total = int(c.sum())
    rows = c.sum(axis=1)
    present = rows > 0
    if total == 0 or present.sum() < 2:
        return "its confusion matrix holds no validation images of two classes or more"
    balanced = float((np.diag(c)[present] / rows[present]).mean())
    need = learned_threshold(int(present.sum()))
    correct = int(np.trace(c))
    p = float(binomtest(correct, total, float(rows.max() / total), alternative="greater").pvalue)
    if balanced >= need and p < LEARNED_P:
        return None
    return (
        f"its model is too close to chance to show which classes look alike: balanced accuracy {balanced:.3f} "
        f"(needs >= {need:.3f}, 3x chance), {correct}/{total} validation images right "
        f"(binomial test against always answering the largest class: p = {p:.2g}, needs < {LEARNED_P:g})"
    )


@dataclass(frozen=True)
class SuggestedGrouping:
    """A grouping with, per group, its mutual confusion rate on the matrix it came from."""

    grouping: Grouping
    rates: dict[str, float]
    num_classes: int


def confusion_similarity(confusion: np.ndarray) -> np.ndarray:
    """Symmetric confusion rates: ``(R + R.T) / 2`` of the row-normalised matrix, zero diagonal."""
    c = np.asarray(confusion, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {c.shape}")
    rows = c.sum(axis=1, keepdims=True)
    rates = np.divide(c, rows, out=np.zeros_like(c), where=rows > 0)
    sym = (rates + rates.T) / 2.0
    np.fill_diagonal(sym, 0.0)
    return sym


def confusion_tree(confusion: np.ndarray) -> np.ndarray:
    """The classes' average-linkage tree on ``1 -`` the symmetric confusion rate (scipy's
    linkage matrix, leaves in optimal order): what suggestions cut and the report orders by."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    distance = 1.0 - confusion_similarity(confusion)
    np.fill_diagonal(distance, 0.0)
    return linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)


def _mutual_rate(confusion: np.ndarray, members: Sequence[int]) -> float:
    block = confusion[np.ix_(members, members)]
    total = confusion[members].sum()
    return float((block.sum() - np.trace(block)) / total) if total else 0.0


def suggest_grouping(confusion: np.ndarray, class_names: Sequence[str], k: int, name: str = "suggested") -> SuggestedGrouping:
    """Cluster ``class_names`` into ``k`` labels by how often a model confuses them.

    Args:
        confusion: Square matrix, rows true classes, columns predictions.
        class_names: Names in matrix order.
        k: Number of labels after grouping, ``2 <= k < len(class_names)``.
        name: The grouping's name.

    Raises:
        ConfigError: ``k`` out of range.
    """
    from scipy.cluster.hierarchy import cut_tree

    n = len(class_names)
    if not 2 <= k < n:
        raise ConfigError(f"a grouping into K labels needs 2 <= K < {n} (the number of classes), but got K={k}")
    c = np.asarray(confusion, dtype=np.float64)
    if c.shape != (n, n):
        raise ValueError(f"confusion matrix shape {c.shape} does not match {n} class names")
    labels = cut_tree(confusion_tree(c), n_clusters=k).ravel()
    clusters = [sorted(np.flatnonzero(labels == c_id).tolist()) for c_id in range(k)]
    clusters = [m for m in clusters if len(m) >= 2]
    # Most confused group first, so G1 is where the model struggles most.
    clusters.sort(key=lambda m: (-_mutual_rate(c, m), m[0]))
    groups: dict[str, tuple[str, ...]] = {}
    rates: dict[str, float] = {}
    taken = set(class_names)
    for i, members in enumerate(clusters, start=1):
        group = f"G{i}"
        while group in taken:  # never collide with a class left ungrouped
            group = f"_{group}"
        groups[group] = tuple(class_names[j] for j in members)
        rates[group] = _mutual_rate(c, members)
    return SuggestedGrouping(grouping=Grouping(name=name, groups=groups), rates=rates, num_classes=k)


def grouping_yaml(suggested: SuggestedGrouping, source: str = "") -> str:
    """The grouping as YAML for people to read and edit, a comment per group with its rate."""
    import yaml

    lines = [
        f"# Suggested by tuner from a confusion matrix{f' ({source})' if source else ''}:",
        f"# {len(suggested.grouping.groups)} groups; {suggested.num_classes} labels after grouping.",
        "# A group's rate is the share of its validation images predicted as another class of",
        "# the same group. Edit freely; classes not listed keep their own label.",
        f"name: {yaml.safe_dump(suggested.grouping.name).strip().removesuffix('...').strip()}",
        "groups:",
    ]
    for group, members in suggested.grouping.groups.items():
        lines.append(f"  # mutual confusion rate {suggested.rates[group]:.1%}")
        key = yaml.safe_dump(group).strip().removesuffix("...").strip()
        lines.append(f"  {key}:")
        for m in members:
            lines.append(f"    - {yaml.safe_dump(m, default_style=None).strip().removesuffix('...').strip()}")
    return "\n".join(lines) + "\n"
