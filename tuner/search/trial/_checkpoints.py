"""A warm trial's checkpoints, kept by the trial itself in its folder of the run's storage.

Why not Tune's checkpoints: Tune resumes a trial from the last checkpoint its *experiment
state* recorded, which it saves every few seconds, so after a SIGKILL of the driver a trial
would go back one or two epochs and re-train epochs whose results the leaderboard already
has (with other values). Here the trial itself finds its newest complete checkpoint in
storage, whatever Tune recorded, so a resumed or restarted trial never repeats an epoch it
reported (a process killed mid-epoch repeats that epoch only).

Layout: ``<storage>/<stage>/<trial_id>/checkpoint_epoch_NNNN/`` (weights, confusion matrix,
``state.json``). A checkpoint is complete when its ``state.json`` exists: locally the folder
is renamed into place whole; on object storage ``state.json`` is uploaded last. After each
save only the best checkpoint (by the metric; the later epoch among ties) and the latest are
kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuner._run import STATE_FILE

__all__ = ["TrialCheckpoints"]

_PREFIX = "checkpoint_epoch_"


class TrialCheckpoints:
    """The checkpoints of one trial under ``root`` (a local folder, or a path in ``fs``)."""

    def __init__(self, root: str, metric: str, mode: str, fs: Any = None):
        self.root = root.rstrip("/")
        self.metric, self.mode, self.fs = metric, mode, fs
        #: path -> (epoch, metric value or None), of the complete checkpoints
        self._known: dict[str, tuple[int, float | None]] = {}
        for path in self._listed():
            state = self._read_state(path)
            if state is not None:
                self._known[path] = (int(state.get("epoch", 0)), _value(state.get("metrics", {}), metric))

    # -- reading

    def latest(self) -> str | None:
        """The complete checkpoint of the highest epoch, or ``None``."""
        return max(self._known, key=lambda p: self._known[p][0], default=None)

    @contextlib.contextmanager
    def local(self, path: str) -> Iterator[str]:
        """``path`` as a local folder (downloaded from object storage if needed)."""
        if self.fs is None:
            yield path
            return
        import pyarrow.fs as pafs

        with tempfile.TemporaryDirectory(prefix="tuner-restore-") as d:
            pafs.copy_files(path, d, source_filesystem=self.fs, destination_filesystem=pafs.LocalFileSystem())
            yield d

    # -- writing

    def save(self, directory: str, epoch: int, metrics: dict[str, Any]) -> str:
        """Move the checkpoint written in ``directory`` into place; returns its path."""
        path = f"{self.root}/{_PREFIX}{epoch:04d}"
        if self.fs is None:
            self._save_local(Path(directory), Path(path))
        else:
            self._upload(Path(directory), path)
        self._known[path] = (epoch, _value(metrics, self.metric))
        self._prune(keep=path)
        return path

    def _save_local(self, source: Path, target: Path) -> None:
        staged = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        for f in source.iterdir():  # a rename when /tmp shares the run folder's disk, else a copy
            shutil.move(str(f), staged / f.name)
        if target.exists():  # the same epoch again, after a restart mid-epoch
            shutil.rmtree(target)
        os.replace(staged, target)

    def _upload(self, source: Path, target: str) -> None:
        self.fs.create_dir(target, recursive=True)
        files = sorted(source.iterdir(), key=lambda f: f.name == STATE_FILE)  # state.json last
        for f in files:
            with f.open("rb") as src, self.fs.open_output_stream(f"{target}/{f.name}") as dst:
                dst.write(src.read())

    def _prune(self, keep: str) -> None:
        best = self._best()
        for path in [p for p in self._known if p not in (keep, best)]:
            del self._known[path]
            if self.fs is None:
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    self.fs.delete_dir(path)

    def _best(self) -> str | None:
        scored = [(v, e, p) for p, (e, v) in self._known.items() if v is not None]
        if not scored:
            return None
        sign = 1.0 if self.mode == "max" else -1.0
        return max(scored, key=lambda t: (sign * t[0], t[1]))[2]

    # -- storage

    def _listed(self) -> list[str]:
        if self.fs is None:
            root = Path(self.root)
            return [str(p) for p in root.glob(f"{_PREFIX}*") if p.is_dir()] if root.is_dir() else []
        import pyarrow.fs as pafs

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.root, allow_not_found=True))
        except OSError:
            return []
        return [i.path for i in infos if i.type == pafs.FileType.Directory and i.base_name.startswith(_PREFIX)]

    def _read_state(self, path: str) -> dict[str, Any] | None:
        try:
            if self.fs is None:
                text = (Path(path) / STATE_FILE).read_text()
            else:
                with self.fs.open_input_stream(f"{path}/{STATE_FILE}") as fh:
                    text = fh.read().decode()
            state = json.loads(text)
        except (OSError, ValueError):
            return None  # incomplete (killed while saving) or damaged: not a resume point
        return state if isinstance(state, dict) else None


def _value(metrics: dict[str, Any], metric: str) -> float | None:
    value = metrics.get(metric)
    if isinstance(value, (int, float)) and value == value:
        return float(value)
    return None
