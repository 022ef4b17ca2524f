"""Walking a dataset folder: which files are images, names that must be text, folders read once
(symbolic-link loops skipped), folders that may not be read."""

from __future__ import annotations

import os
from pathlib import Path

from tuner.errors import DataError

__all__ = ["IMAGE_EXTENSIONS", "is_image", "subdirs", "walk"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})


def is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def walk(folder: Path, root: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    """All files below ``folder``: (images with size and mtime, other files), relative to root."""
    images: list[tuple[str, int, int]] = []
    others: list[str] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_unreadable, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symbolic link back up the tree, or a second link to a folder read already
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in [*dirnames, *filenames]:
            _check_name(name, dirpath)
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = Path(os.path.relpath(full, root)).as_posix()
            if name.startswith("."):
                continue  # .DS_Store and friends are not dataset content
            if not is_image(name):
                others.append(rel)
                continue
            try:
                st = os.stat(full)
            except OSError:
                others.append(rel)
                continue
            images.append((rel, st.st_size, st.st_mtime_ns))
    return images, others


def _unreadable(exc: OSError) -> None:
    """os.walk's error hook: a folder it may not list is the user's to fix, not an empty class."""
    if isinstance(exc, PermissionError):
        from tuner._io import os_problem, short

        raise DataError(f"dataset folder {short(str(exc.filename))}: {os_problem(exc)}") from None


def _check_name(name: str, folder: str | os.PathLike[str]) -> None:
    """File and folder names become class names, JSON and log lines: they must be text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        from tuner._io import short

        shown = short(name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), 40)
        where = short(os.fsencode(folder).decode("utf-8", "replace"), 60)
        raise DataError(f"{shown} in {where} is not a valid UTF-8 name; rename it") from None


def subdirs(path: Path) -> list[str]:
    try:
        names = sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        from tuner._io import os_problem, short

        raise DataError(f"dataset folder {short(str(path))}: {os_problem(exc)}") from None
    for name in names:
        _check_name(name, path)
    return names
