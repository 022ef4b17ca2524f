"""Loading a space: a shipped name or a YAML file, read (tuner._io), validated (the models of
``_space``) and checked against what trials can run (``_checks``)."""

from __future__ import annotations

from pathlib import Path

from tuner._io import read_yaml
from tuner._paths import list_yaml, repo_search_spaces_dir, resolve_named_yaml
from tuner.errors import ConfigError
from tuner.search.space._checks import check_space
from tuner.search.space._space import SearchSpace, _validated

__all__ = ["list_spaces", "load_space", "resolve_space_path"]


def _spaces_dir() -> Path:
    return repo_search_spaces_dir()


def list_spaces() -> list[str]:
    """Names of the shipped search spaces."""
    return list_yaml(_spaces_dir())


def resolve_space_path(name_or_file: str) -> Path:
    """``--space NAME|FILE`` -> the YAML file.

    Raises:
        ConfigError: neither a shipped name nor an existing file.
    """
    return resolve_named_yaml(name_or_file, _spaces_dir(), "space")


def load_space(name_or_file: str) -> SearchSpace:
    """Load and validate a space (shipped name or file), including its architectures.

    Raises:
        ConfigError: YAML syntax, unknown keys, bad ranges, unknown architectures or
            optimizers, input sizes below an architecture's minimum, unfrozen blocks above an
            architecture's count. Each message names the key, the value and the valid choices.
    """
    path = resolve_space_path(name_or_file)
    raw = read_yaml(path, "space file")
    if not isinstance(raw, dict):
        raise ConfigError(f"space file {str(path)!r} must be a mapping of keys such as architectures, params and budget")
    raw.setdefault("name", path.stem)
    space = _validated(SearchSpace, raw, f"space {path.name}")
    check_space(space, f"space {path.name}")
    if space.demo is not None:
        check_space(space.with_demo(), f"space {path.name} (demo)")
    return space
