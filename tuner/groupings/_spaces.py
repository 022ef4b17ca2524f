"""Label spaces of a search with groupings: each trial's labels, the common space all are scored on.

A trial that merges classes predicts fewer labels; comparing it with one that does not needs a
common label space every candidate grouping maps into (:func:`common_grouping`), and an
accuracy computed there (:func:`common_accuracy`), so that merging classes alone can never
raise the objective.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["common_accuracy", "common_grouping", "label_spaces"]


def common_grouping(class_names: list[str], groupings: list[Any]):
    """The common label space: the finest grouping every candidate maps into.

    Classes merged by any candidate are merged here (connected components of all merges),
    so each candidate's labels map to exactly one common label and merging classes alone
    cannot raise common-space accuracy. ``None`` when no candidate merges anything.
    """
    from tuner.data import Grouping

    parent = {c: c for c in class_names}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for g in groupings:
        for members in g.groups.values():
            for other in members[1:]:
                parent[find(other)] = find(members[0])
    components: dict[str, list[str]] = {}
    for c in class_names:
        components.setdefault(find(c), []).append(c)
    merged = [m for m in components.values() if len(m) > 1]
    if not merged:
        return None
    taken = set(class_names)
    groups = {}
    for i, members in enumerate(sorted(merged, key=lambda m: class_names.index(m[0])), start=1):
        name = f"common_{i}"
        while name in taken:
            name = f"_{name}"
        groups[name] = tuple(members)
    return Grouping(name="common", groups=groups)


def label_spaces(class_names: list[str], grouping_file: str | None, common_file: str | None):
    """The trial's label remap and the map from its labels to the common label space.

    Returns:
        ``(remap, to_common)``: ``remap`` maps fine classes to the trial's labels (``None``
        for no grouping); ``to_common[trial_label]`` is the common-space label.
    """
    from tuner.data import Grouping, load_grouping

    remap = load_grouping(grouping_file).remap(class_names) if grouping_file else Grouping.identity(class_names)
    common = load_grouping(common_file).remap(class_names) if common_file else Grouping.identity(class_names)
    to_common = np.zeros(remap.num_classes, dtype=np.int64)
    for fine, label in enumerate(remap.mapping):
        to_common[label] = common.mapping[fine]
    return remap, to_common


def common_accuracy(confusion: np.ndarray, to_common: np.ndarray) -> float:
    """Accuracy after mapping labels and predictions to the common space (sums of blocks)."""
    total = confusion.sum()
    if not total:
        return float("nan")
    same = to_common[:, None] == to_common[None, :]
    return float(confusion[same].sum() / total)
