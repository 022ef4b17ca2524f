"""Where ``tuner`` keeps files that outlive one run (the demo dataset, decode-once caches)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root", "repo_search_spaces_dir"]


def cache_root() -> Path:
    """The cache directory: ``$TUNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/tuner``, else ``~/.cache/tuner``."""
    explicit = os.environ.get("TUNER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tuner"


def repo_search_spaces_dir() -> Path:
    """The shipped ``search_spaces/`` folder (next to the package; ``$TUNER_SPACES_DIR`` overrides)."""
    explicit = os.environ.get("TUNER_SPACES_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return Path(__file__).resolve().parent.parent / "search_spaces"
