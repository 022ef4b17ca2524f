"""The decode-once image cache.

Each image of a dataset is decoded once per node and stored as uint8 at a working size in a
memory-mapped ``.npy`` array that every trial on the node shares. The cache is keyed by the
dataset identity (paths, sizes, mtimes, classes) and the working size, so an edited dataset
gets a new cache and a stale one is never reused. It is built under a file lock; a second
trial waits for the first and then starts warm.

Unusable files (corrupt, truncated, not really images) are marked in an ``ok`` mask and
excluded from training with one warning giving the count.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from tuner._paths import cache_root
from tuner.data._images import decode_rgb, probe_image
from tuner.data._index import DatasetIndex
from tuner.errors import DataError

__all__ = ["ImageCache", "open_cache", "cache_dir_for", "choose_working_size", "estimate_cache_bytes"]

_log = logging.getLogger("tuner.data")
_VERSION = 1
_MANIFEST = "manifest.json"
_CHUNK = 256

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageCache:
    """A built cache: images in :attr:`DatasetIndex.files` order, and which ones are usable.

    Attributes:
        path: The cache folder.
        size: Working size in pixels (images are ``size x size x 3`` uint8).
        images: Read-only memory map of shape ``(N, size, size, 3)``.
        ok: Boolean mask of shape ``(N,)``: false for files that could not be decoded.
        bad_files: Relative paths of the excluded files.
        built_now: True when this call decoded the images (a cold start).
        setup_seconds: Time this call spent building or opening the cache.
    """

    path: Path
    size: int
    images: np.ndarray
    ok: np.ndarray
    bad_files: tuple[str, ...]
    built_now: bool
    setup_seconds: float


def cache_dir_for(index: DatasetIndex, size: int, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the cache for ``index`` at working ``size``."""
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    return base / "images" / f"{index.identity}-{size}px-v{_VERSION}"


def choose_working_size(index: DatasetIndex, max_input_size: int, sample: int = 200) -> int:
    """The working size: the dataset's typical source size, capped at the largest model input.

    Storing more pixels than any model will see wastes decode time and disk; storing fewer
    than the source has throws detail away before augmentation, which runs at source size.
    The typical size is the median longer side of up to ``sample`` files (headers only).
    """
    if max_input_size < 1:
        raise ValueError(f"max_input_size must be >= 1, got {max_input_size}")
    step = max(1, len(index.files) // sample)
    sides = []
    for rel in index.files[::step][:sample]:
        probe = probe_image(os.path.join(index.root, rel))
        if probe.ok:
            sides.append(max(probe.width, probe.height))
    typical = int(statistics.median(sides)) if sides else max_input_size
    return max(1, min(typical, max_input_size))


def estimate_cache_bytes(num_images: int, size: int) -> int:
    """Bytes a cache of ``num_images`` at working ``size`` takes on disk."""
    return num_images * size * size * 3


def _decode_chunk(args: tuple[str, Sequence[str], int]) -> list[np.ndarray | None]:
    root, rels, size = args
    return [decode_rgb(os.path.join(root, rel), size) for rel in rels]


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / _MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _build(index: DatasetIndex, size: int, target: Path, workers: int, progress: ProgressFn | None) -> None:
    n = len(index.files)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        images = np.lib.format.open_memmap(staging / "images.npy", mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
        ok = np.zeros(n, dtype=bool)
        chunks = [(index.root, index.files[i : i + _CHUNK], size) for i in range(0, n, _CHUNK)]
        done = 0

        def store(start: int, arrays: list[np.ndarray | None]) -> None:
            nonlocal done
            for j, arr in enumerate(arrays):
                if arr is not None:
                    images[start + j] = arr
                    ok[start + j] = True
            done += len(arrays)
            if progress is not None:
                progress(done, n)

        if workers > 1 and len(chunks) > 1:
            # Threads, not processes: Pillow releases the GIL while it decodes and resizes, and
            # a process pool would re-import the caller's __main__ (and deadlock on this lock
            # when that script has no main guard) or fork a process running TensorFlow.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for k, arrays in enumerate(pool.map(_decode_chunk, chunks)):
                    store(k * _CHUNK, arrays)
        else:
            for k, chunk in enumerate(chunks):
                store(k * _CHUNK, _decode_chunk(chunk))
        images.flush()  # the map stays valid after the rename below (same inode)
        np.save(staging / "ok.npy", ok)
        bad = [rel for rel, good in zip(index.files, ok) if not good]
        manifest = {
            "version": _VERSION,
            "identity": index.identity,
            "size": size,
            "num_images": n,
            "bad_files": bad,
            "root": index.root,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1))
        if target.exists():
            shutil.rmtree(target)  # an incomplete earlier build (no manifest)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def open_cache(
    index: DatasetIndex,
    size: int,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> ImageCache:
    """Open the decode-once cache of ``index`` at working ``size``, building it if needed.

    Safe to call from many processes at once: one builds under a file lock, the others wait
    and then open it warm.

    Args:
        index: The dataset.
        size: Working size in pixels.
        cache_dir: Cache root; defaults to ``$TUNER_CACHE_DIR`` or ``~/.cache/tuner``.
        workers: Decoding threads; default: all cores for large datasets, 1 for small ones.
        progress: Called as ``progress(done, total)`` while building.

    Raises:
        DataError: no file of the dataset could be decoded, or a cache folder whose manifest
            does not match its key (someone edited it by hand).
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    start = time.perf_counter()
    target = cache_dir_for(index, size, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    built_now = False
    if _read_manifest(target) is None:
        with FileLock(str(target) + ".lock"):
            if _read_manifest(target) is None:
                n = len(index.files)
                if workers is None:
                    workers = min(os.cpu_count() or 1, 8) if n >= 2000 else 1
                _log.info("decoding %d images once into %s (%d px)", n, target, size)
                _build(index, size, target, workers, progress)
                built_now = True
    manifest = _read_manifest(target)
    if manifest is None or manifest.get("identity") != index.identity or manifest.get("size") != size or manifest.get("num_images") != len(index.files):
        raise DataError(f"image cache {target} does not match its dataset (edited or copied by hand); delete that folder and run again")
    images = np.load(target / "images.npy", mmap_mode="r")
    ok = np.load(target / "ok.npy")
    bad = tuple(manifest.get("bad_files", ()))
    if not ok.any():
        raise DataError(
            f"none of the {len(index.files)} images under {index.root} could be decoded; run 'python -m tuner.data inspect {index.root}' to see why"
        )
    if bad:
        _log.warning(
            "excluded %d unreadable image(s) of %d under %s (corrupt, truncated or not images); 'python -m tuner.data inspect' lists them",
            len(bad),
            len(index.files),
            index.root,
        )
    return ImageCache(
        path=target,
        size=size,
        images=images,
        ok=ok,
        bad_files=bad,
        built_now=built_now,
        setup_seconds=time.perf_counter() - start,
    )
