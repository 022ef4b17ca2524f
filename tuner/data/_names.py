"""Class names: cleaning folder names with a regex or a preset, and making names file-safe."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from tuner.errors import ConfigError

__all__ = ["CLASS_NAME_PRESETS", "PATTERN_TIMEOUT_S", "compile_class_name_pattern", "clean_class_name", "safe_filename"]

#: The longest one folder name may take to match ``--class-name-pattern``. Python's ``re``
#: cannot be interrupted (a pattern such as ``^(a+)+$`` backtracks for hours on a long name);
#: the ``regex`` package takes a timeout and otherwise reads the same syntax.
PATTERN_TIMEOUT_S = 1.0

#: Built-in ``--class-name-pattern`` presets. The first regex group is the class name.
CLASS_NAME_PRESETS: Mapping[str, str] = {
    # The retail study's folders: boxes_<Family>_<Category>_<number> -> <Family>_<Category>.
    "beauty": r"^(?:boxes_)?(.+?)(?:_\d+)?$",
}


def compile_class_name_pattern(pattern: str | None) -> Any:
    """Turn ``--class-name-pattern`` (a preset name or a regex with one group) into a regex.

    Raises:
        ConfigError: the regex does not compile or has no capturing group.
    """
    if pattern is None or pattern == "":
        return None
    import regex

    source = CLASS_NAME_PRESETS.get(pattern, pattern)
    try:
        compiled = regex.compile(source, flags=regex.VERSION0)
    except (regex.error, OverflowError, RecursionError) as exc:
        presets = ", ".join(sorted(CLASS_NAME_PRESETS))
        raise ConfigError(
            f"--class-name-pattern {_shown(pattern)} is not a valid regular expression ({exc}); "
            f"give a regex whose first group is the class name, or a preset: {presets}"
        ) from None
    if compiled.groups < 1:
        raise ConfigError(f"--class-name-pattern {_shown(pattern)} has no capturing group; the first group is the class name, e.g. '^prefix_(.+)$'")
    return compiled


def _shown(pattern: str) -> str:
    from tuner._io import short

    return short(pattern, 50)


def clean_class_name(folder: str, pattern: Any) -> str:
    """The class name for ``folder``: the pattern's first group, or the folder name itself.

    A folder the pattern does not match keeps its own name; a match with an empty first group
    is an error, since an empty class name cannot be told apart from any other.
    """
    if pattern is None:
        return folder
    try:
        match = pattern.search(folder, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise ConfigError(
            f"--class-name-pattern {_shown(pattern.pattern)} took over {PATTERN_TIMEOUT_S:g} s on folder {_shown(folder)} "
            "(nested repeats such as (a+)+ backtrack without end); simplify the pattern"
        ) from None
    if match is None or match.group(1) is None:
        return folder
    name = match.group(1)
    if not name.strip():
        raise ConfigError(
            f"--class-name-pattern {_shown(pattern.pattern)} turns folder {_shown(folder)} into an empty class name; "
            "make the first group match at least one character"
        )
    return name


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str, max_length: int = 80) -> str:
    """A file-name-safe form of a class or group name (no separators, no ``..``, no markup).

    Distinct names can map to the same safe name; callers that write one file per class add
    an index to keep them apart.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE.sub("_", text)
    text = re.sub(r"\.{2,}", "_", text).strip("._")
    return (text or "class")[:max_length]
