"""Class groupings: suggestions from confusion matrices (``python -m tuner.groupings suggest``)
and the label spaces a search with groupings scores on."""

from tuner.groupings._spaces import common_accuracy, common_grouping, label_spaces
from tuner.groupings._suggest import (
    SuggestedGrouping,
    confusion_similarity,
    confusion_tree,
    grouping_yaml,
    learned_threshold,
    suggest_grouping,
    why_not_learned,
)

__all__ = [
    "SuggestedGrouping",
    "common_accuracy",
    "common_grouping",
    "confusion_similarity",
    "confusion_tree",
    "grouping_yaml",
    "label_spaces",
    "learned_threshold",
    "suggest_grouping",
    "why_not_learned",
]
