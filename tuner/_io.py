"""Reading what users hand over: paths, text, YAML and JSON, with one-line errors.

Every file a user names (a space, a grouping, ``wnids.txt``, a run folder's files) is read
through these functions, so a file that is missing, a folder, unreadable, not UTF-8, not
valid YAML or JSON, or of the wrong shape becomes one :class:`~tuner.errors.TunerError`
naming the file and the fix, never a traceback. :func:`write_atomic` is the one way files are
written whole (temp file, fsync, rename): a kill leaves the old file or the new one.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tuner.errors import ConfigError, TunerError

__all__ = ["MAX_NESTING", "read_json", "read_text", "read_yaml", "short", "user_path", "write_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: What a new file gets (0666 less the umask), as open() would give it.
_FILE_MODE = 0o666 & ~_umask()

#: Deepest nesting a YAML or JSON file may have: spaces and run files are a few levels deep.
MAX_NESTING = 20


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (messages stay one line)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...{text[-8:]} ({len(text)} chars)"


def user_path(text: str, what: str, error: type[TunerError] = ConfigError) -> Path:
    """A path the user typed, ``~`` expanded; one line if it cannot name a file here."""
    if text.startswith("~"):
        expanded = os.path.expanduser(text)
        if expanded.startswith("~"):
            raise error(f"{what} {short(text)}: no such user's home folder; write the path out in full")
        text = expanded
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what} {short(text)} is not a valid UTF-8 name; rename it with letters, digits, '-' and '_'") from None
    if "\x00" in text:
        raise error(f"{what} {short(text)} contains a NUL character; give a real path")
    return Path(text)


def os_problem(exc: OSError) -> str:
    """What an ``OSError`` means to a user, in a few words, with the fix."""
    code = exc.errno
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return "permission denied; check its permissions (ls -l) or run as a user who may read and write it"
    if isinstance(exc, FileNotFoundError):
        return "does not exist; check the path"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file; give the file"
    if isinstance(exc, NotADirectoryError):
        return "is a file where a folder was expected (or a parent is a file); give a folder"
    if code == errno.ELOOP:
        return "is a symbolic link loop; fix or remove the link"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on the device; free some space"
    if code == errno.EROFS:
        return "is on a read-only filesystem; choose a writable place"
    if code == errno.ENAMETOOLONG:
        return "name too long; shorten it"
    return f"{exc.strerror or type(exc).__name__}; check the path"


def read_text(path: str | os.PathLike[str], what: str, error: type[TunerError] = ConfigError, limit: int = 50_000_000) -> str:
    """The UTF-8 text of ``path``, or one ``error`` line saying why it cannot be had."""
    p = Path(path)
    try:
        if p.is_dir():
            raise error(f"{what} {short(str(p))} is a folder, not a file; give the file")
        if p.exists() and not p.is_file():
            raise error(f"{what} {short(str(p))} is not a regular file (a device or a pipe); give a file")
        with open(p, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{what} {short(str(p))}: {os_problem(exc)}") from None
    if len(raw) > limit:
        raise error(f"{what} {short(str(p))} is larger than {limit // 1_000_000} MB; is it the right file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {short(str(p))} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_NESTING:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level + 1])
    return level


def _loader() -> type:
    """YAML's safe loader, with two fixes users expect: a repeated key is an error (PyYAML
    keeps the last one silently), and ``1e-3`` is the number it reads as in YAML 1.2 and
    JSON (PyYAML follows YAML 1.1, where a float needs a dot: ``1e-3`` was the string)."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def read_yaml(path: str | os.PathLike[str], what: str, error: type[TunerError] = ConfigError) -> Any:
    """The YAML document in ``path`` (see :func:`_loader`), or one ``error`` line."""
    import yaml

    text = read_text(path, what, error, limit=5_000_000)
    try:
        value = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise error(f"{what} {short(str(path))} is nested more than {MAX_NESTING} levels deep; a space is a few levels") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{what} {short(str(path))} is not valid YAML{line}: {short(problem, 80)}; fix the file") from None
    if _depth(value) > MAX_NESTING:
        raise error(f"{what} {short(str(path))} is nested more than {MAX_NESTING} levels deep; a space is a few levels")
    return value


def read_json(path: str | os.PathLike[str], what: str, error: type[TunerError] = ConfigError, expect: type | None = dict) -> Any:
    """The JSON value in ``path``, of type ``expect`` (``None``: any), or one ``error`` line."""
    text = read_text(path, what, error)
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise error(f"{what} {short(str(path))} is nested too deeply; it is damaged") from None
    except ValueError as exc:
        raise error(f"{what} {short(str(path))} is not valid JSON ({short(str(exc), 80)}); it is damaged") from None
    if expect is not None and not isinstance(value, expect):
        raise error(f"{what} {short(str(path))} holds a JSON {type(value).__name__}, not a JSON {_json_name(expect)}; it is damaged")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_name(kind: type) -> str:
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(kind, kind.__name__)


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` whole: a temp file in the same folder, fsync, rename.

    A reader (or a kill at any moment) sees the old file or the new one, never a part.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)  # mkstemp makes it private (0600); a run folder is shared like any file
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
