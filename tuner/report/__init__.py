"""The leaderboard report (``python -m tuner.report RUN_DIR``).

Each figure's data comes from a ``get_*_info`` function over the run's files, then is drawn;
importing this package imports neither matplotlib nor TensorFlow nor Ray.
"""

from tuner.report._compute import ComputeInfo, get_compute_info
from tuner.report._figures import (
    BlocksInfo,
    ConfusionInfo,
    CurvesInfo,
    GroupingsInfo,
    ImportanceInfo,
    LrInfo,
    cluster_order,
    get_blocks_info,
    get_confusion_info,
    get_curves_info,
    get_groupings_info,
    get_importance_info,
    get_lr_info,
    get_top_table,
    histories,
)
from tuner.report._html import FIGURES, Figure, ReportResult, build_report

__all__ = [
    "FIGURES",
    "BlocksInfo",
    "ComputeInfo",
    "ConfusionInfo",
    "CurvesInfo",
    "Figure",
    "GroupingsInfo",
    "ImportanceInfo",
    "LrInfo",
    "ReportResult",
    "build_report",
    "cluster_order",
    "get_blocks_info",
    "get_compute_info",
    "get_confusion_info",
    "get_curves_info",
    "get_groupings_info",
    "get_importance_info",
    "get_lr_info",
    "get_top_table",
    "histories",
]
