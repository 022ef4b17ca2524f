"""Datasets: layouts, splits, groupings, the demo set, the decode-once cache and the pipeline.

Importing this package does not import TensorFlow; :func:`make_dataset` does, when called.
"""

from tuner.data._cache import ImageCache, cache_dir_for, choose_working_size, estimate_cache_bytes, open_cache
from tuner.data._demo import DEMO_NAME, demo_dataset_dir
from tuner.data._grouping import Grouping, LabelRemap, list_groupings, load_grouping, resolve_grouping_path
from tuner.data._images import ImageProbe, decode_rgb, probe_image, to_rgb
from tuner.data._index import IMAGE_EXTENSIONS, SPLITS, DatasetIndex, index_dataset, split_assignments
from tuner.data._inspect import InspectReport, format_report, inspect_dataset
from tuner.data._names import CLASS_NAME_PRESETS, clean_class_name, compile_class_name_pattern, safe_filename
from tuner.data._pipeline import AUGMENTATIONS, LIGHT_AUGMENTATION, STUDY_AUGMENTATION, Augmentation, make_dataset, split_arrays

__all__ = [
    "AUGMENTATIONS",
    "CLASS_NAME_PRESETS",
    "LIGHT_AUGMENTATION",
    "DEMO_NAME",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "STUDY_AUGMENTATION",
    "Augmentation",
    "DatasetIndex",
    "Grouping",
    "ImageCache",
    "ImageProbe",
    "InspectReport",
    "LabelRemap",
    "cache_dir_for",
    "choose_working_size",
    "clean_class_name",
    "compile_class_name_pattern",
    "decode_rgb",
    "demo_dataset_dir",
    "estimate_cache_bytes",
    "format_report",
    "index_dataset",
    "inspect_dataset",
    "list_groupings",
    "load_grouping",
    "make_dataset",
    "open_cache",
    "probe_image",
    "resolve_grouping_path",
    "safe_filename",
    "split_arrays",
    "split_assignments",
    "to_rgb",
]
