"""Package faces that resolve their names on first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, module: str, names: Sequence[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``module`` when one of ``names`` is
    first asked for: the package's helpers stay importable without pulling in ``module``."""
    wanted = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in wanted:
            return getattr(importlib.import_module(module), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
