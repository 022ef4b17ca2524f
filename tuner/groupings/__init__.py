"""Grouping suggestions from confusion matrices (``python -m tuner.groupings suggest``)."""

from tuner.groupings._suggest import (
    SuggestedGrouping,
    confusion_similarity,
    grouping_yaml,
    suggest_grouping,
)

__all__ = ["SuggestedGrouping", "confusion_similarity", "grouping_yaml", "suggest_grouping"]
