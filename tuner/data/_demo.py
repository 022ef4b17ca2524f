"""The demo dataset: scikit-learn's bundled handwritten digits as PNG class folders.

1,797 real 8x8 grayscale scans of digits 0-9 (the UCI optical-recognition set), shipped
inside scikit-learn, so the demo needs no network. Written once under the cache directory,
then indexed like any other folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock

from tuner._paths import cache_root

__all__ = ["DEMO_NAME", "demo_dataset_dir"]

DEMO_NAME = "sklearn-digits"
_VERSION = 1
_COMPLETE = ".complete"


def demo_dataset_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The demo dataset's folder, written on first use (under a file lock; atomic).

    Args:
        cache_dir: Where to keep it; defaults to :func:`tuner._paths.cache_root`.

    Returns:
        A class-folder dataset: ``<dir>/<digit>/<n>.png``.
    """
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    target = base / "datasets" / f"{DEMO_NAME}-v{_VERSION}"
    if (target / _COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / _COMPLETE).exists():
            return target
        from PIL import Image
        from sklearn.datasets import load_digits

        digits = load_digits()
        # 0..16 intensities with ink high; scale to 0..255 and invert to dark ink on white,
        # the way a scan looks.
        pixels = 255 - np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            for i, (image, label) in enumerate(zip(pixels, digits.target)):
                folder = staging / str(int(label))
                folder.mkdir(exist_ok=True)
                Image.fromarray(image, mode="L").save(folder / f"{i:04d}.png")
            (staging / _COMPLETE).write_text("sklearn.datasets.load_digits\n")
            if target.exists():
                shutil.rmtree(target)  # an interrupted earlier write without the marker
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return target
