"""Run folders on object storage (``--storage s3://bucket/prefix``), through pyarrow's filesystems.

A run with remote storage has two copies of one layout:

- the **remote run folder** ``<uri>/<name>``: Tune's experiments and every checkpoint (written
  there by the trials, from whichever node they train on), plus copies of the driver's files;
- the **local run folder** ``runs/<name>`` on the machine that runs the search (the head
  node): ``run.json``, the leaderboard, groupings, each trial's result files, and the
  checkpoints that were needed here (fetched on demand, same relative paths).

Report, suggest and export read the local folder and fetch a checkpoint only when they need
its files. pyarrow is imported lazily; URIs may carry pyarrow's options (``?region=...``,
``?endpoint_override=...`` for S3-compatible stores).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tuner.errors import ConfigError

__all__ = ["is_uri", "join_uri", "open_uri", "upload_files", "download_dir", "display_uri"]


def is_uri(text: str | os.PathLike[str] | None) -> bool:
    """``s3://...``, ``gs://...`` and the like (not a local path)."""
    return isinstance(text, str) and "://" in text and not text.startswith("file://")


def join_uri(uri: str, *parts: str) -> str:
    """``uri`` with ``parts`` appended to its path, keeping its query (pyarrow options)."""
    s = urlsplit(uri)
    path = "/".join([s.path.rstrip("/"), *[p.strip("/") for p in parts]])
    return urlunsplit((s.scheme, s.netloc, path, s.query, ""))


def display_uri(uri: str) -> str:
    """The URI without credentials or options, for messages."""
    s = urlsplit(uri)
    host = s.netloc.rsplit("@", 1)[-1]
    return urlunsplit((s.scheme, host, s.path, "", ""))


def open_uri(uri: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, path inside it)`` of a storage URI.

    Raises:
        ConfigError: a scheme pyarrow does not know, or options it rejects.
    """
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError, TypeError) as exc:
        raise ConfigError(
            f"--storage {display_uri(uri)!r} cannot be opened ({' '.join(str(exc).split())[:200]}); use s3://bucket/prefix, gs://bucket/prefix or a local folder"  # noqa: E501
        ) from None


def upload_files(local_root: Path, files: list[Path], uri: str) -> None:
    """Copy ``files`` (under ``local_root``) to the same relative paths under ``uri``."""
    fs, root = open_uri(uri)
    for f in files:
        if not f.is_file():
            continue
        rel = f.relative_to(local_root).as_posix()
        target = f"{root.rstrip('/')}/{rel}"
        fs.create_dir(target.rsplit("/", 1)[0], recursive=True)
        with f.open("rb") as src, fs.open_output_stream(target) as dst:
            dst.write(src.read())


def download_dir(uri: str, rel: str, local_root: Path) -> Path | None:
    """Copy the folder ``<uri>/<rel>`` to ``local_root/<rel>``; ``None`` if it does not exist."""
    import pyarrow.fs as pafs

    fs, root = open_uri(uri)
    source = f"{root.rstrip('/')}/{rel.strip('/')}"
    if fs.get_file_info(source).type != pafs.FileType.Directory:
        return None
    target = local_root / rel
    partial = target.with_name(target.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(source, str(partial), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    os.replace(partial, target)  # a half-copied checkpoint never looks complete
    return target
