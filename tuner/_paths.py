"""Where ``tuner`` keeps files that outlive one run (the demo dataset, decode-once caches)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_root", "repo_search_spaces_dir", "list_yaml", "resolve_named_yaml"]


def cache_root() -> Path:
    """The cache directory: ``$TUNER_CACHE_DIR``, else ``$XDG_CACHE_HOME/tuner``, else ``~/.cache/tuner``."""
    explicit = os.environ.get("TUNER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tuner"


def repo_search_spaces_dir() -> Path:
    """The shipped ``search_spaces/`` folder (``$TUNER_SPACES_DIR`` overrides).

    An installed wheel carries it as package data, ``tuner/search_spaces`` (pyproject.toml
    maps the top-level folder there); a source checkout or an editable install reads the
    top-level ``search_spaces/`` itself, where users see and edit it.
    """
    explicit = os.environ.get("TUNER_SPACES_DIR")
    if explicit:
        return Path(explicit).expanduser()
    from importlib.resources import files

    packaged = files("tuner") / "search_spaces"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "search_spaces"


def list_yaml(folder: Path) -> list[str]:
    """Names (file stems) of the YAML files shipped in ``folder``."""
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_named_yaml(name_or_file: str, folder: Path, what: str) -> Path:
    """A shipped name (``folder/<name>.yaml``) or a YAML file path -> the file.

    Args:
        name_or_file: What the user gave.
        folder: Where the shipped files live.
        what: How messages call it ("space", "grouping").

    Raises:
        ConfigError: neither a shipped name nor an existing file; the shipped names are
            listed, closest first.
    """
    import difflib

    from tuner._io import short, user_path
    from tuner.errors import ConfigError

    path = user_path(name_or_file, f"{what} file")
    names = list_yaml(folder)
    if path.suffix in (".yaml", ".yml") or "/" in name_or_file or os.sep in name_or_file or name_or_file.startswith("~"):
        if path.is_file():
            return path
        if path.is_dir():
            raise ConfigError(f"{what} file {short(name_or_file)} is a folder; give a YAML file in it or a shipped name: {', '.join(names) or '(none)'}")
        if path.exists():
            raise ConfigError(f"{what} file {short(name_or_file)} is not a regular file; give a YAML file or a shipped name: {', '.join(names) or '(none)'}")
        raise ConfigError(f"{what} file {short(name_or_file)} does not exist; give a YAML file or a shipped name: {', '.join(names) or '(none)'}")
    shipped = folder / f"{name_or_file}.yaml"
    if shipped.is_file():
        return shipped
    if path.exists() and not path.is_file():
        raise ConfigError(f"{what} {short(name_or_file)} is not a regular file; give a YAML file or a shipped name: {', '.join(names) or '(none)'}")
    if path.is_file():  # a file in the current folder, named without .yaml
        return path
    close = difflib.get_close_matches(name_or_file, names, n=max(1, len(names)), cutoff=0.0) + names
    close = list(dict.fromkeys(close))  # closest first, then the rest
    raise ConfigError(f"unknown {what} {short(name_or_file)}; shipped {what}s are: {', '.join(close) or '(none)'} (or give a YAML file)")
