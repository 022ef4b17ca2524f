"""Grouping suggestions from confusion matrices (``python -m tuner.groupings suggest``)."""

from tuner.groupings._suggest import (
    SuggestedGrouping,
    confusion_similarity,
    grouping_yaml,
    learned_threshold,
    suggest_grouping,
    why_not_learned,
)

__all__ = ["SuggestedGrouping", "confusion_similarity", "grouping_yaml", "learned_threshold", "suggest_grouping", "why_not_learned"]
