"""Bounds on what the suite reads from files it is given: sizes, line lengths, YAML alias expansion, and
excerpts for messages. A hostile or broken input becomes a one-line error in bounded time and memory,
never a hang, and never a message that quotes more than a short excerpt of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from mlctl_zoo.utils.files import LineTooLong, iter_line_bytes

EXCERPT_CHARS = 80
MAX_YAML_NODES = 200_000  # values after alias expansion: the largest shipped registry has a few thousand


def excerpt(value: Any, n: int = EXCERPT_CHARS) -> str:
    """A short description of ``value`` for a message: a string's first ``n`` characters, a container's type
    and size. Never walks a large structure (a YAML alias bomb has billions of values behind one list)."""
    if isinstance(value, str):
        return repr(value[:n]) + ("…" if len(value) > n else "")
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value[:n])) + ("…" if len(value) > n else "")
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    text = repr(value) if isinstance(value, (int, float, bool, type(None))) else type(value).__name__
    return text[:n]


def first_line(err: BaseException | str, n: int = 160) -> str:
    """The first non-empty line of an exception's message (its type's name when it has none), at most ``n``
    characters: what a one-line error quotes of a library's multi-line message."""
    text = str(err).strip()
    line = text.splitlines()[0].strip() if text else ""
    if not line:
        line = type(err).__name__ if isinstance(err, BaseException) else ""
    return clip(line, n)


def clip(text: str, n: int = EXCERPT_CHARS) -> str:
    """``text`` as is when short, else its first ``n`` characters and an ellipsis (no quotes added)."""
    text = str(text)
    return text if len(text) <= n else text[:n] + "…"


def check_text_file(path: str | Path, max_bytes: int, max_line: int) -> None:
    """Raise ValueError when the file is larger than ``max_bytes`` or has a line longer than ``max_line`` bytes;
    reads at most ``max_line + 1`` bytes at a time."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size} bytes, more than the {max_bytes} read from such a file")
    try:
        for _ in iter_line_bytes(path, max_line):
            pass
    except LineTooLong as e:
        raise ValueError(f"line {e.line} is longer than {max_line} bytes") from None


def check_yaml_text(text: str, max_depth: int = 64) -> None:
    """Raise ValueError when YAML text nests deeper than ``max_depth`` levels, counted before parsing (the
    YAML parser takes minutes on a few thousand nested brackets): flow brackets ``[``/``{`` (counted
    everywhere, quotes included, which only errs on the safe side) and indentation (2 columns a level)."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > max_depth:
                    raise ValueError(f"nested more than {max_depth} levels deep")
        elif ch in "]}" and depth:
            depth -= 1
    for n, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" "))
        if indent > 2 * max_depth:
            raise ValueError(f"line {n} is indented more than {2 * max_depth} columns")


def check_yaml_tree(obj: Any, max_nodes: int = MAX_YAML_NODES) -> None:
    """Raise ValueError when ``obj`` (as loaded from YAML) would expand past ``max_nodes`` values once its aliases
    are followed, refers to itself, or carries an explicit tag (``!!python/object``, ``!foo``). Shared
    sub-trees are sized once (memoised), so a nine-level alias bomb is refused after a few hundred steps."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def tag_of(o: Any) -> str | None:
        tag = getattr(o, "tag", None)
        value = getattr(tag, "value", tag)
        return value if isinstance(value, str) and value else None

    def size(o: Any, depth: int) -> int:
        tag = tag_of(o)
        if tag is not None:
            raise ValueError(f"YAML tag {excerpt(tag, 40)} is not allowed (plain mappings, lists and scalars only)")
        if not isinstance(o, (dict, list, tuple)):
            return 1
        key = id(o)
        if key in memo:
            return memo[key]
        if key in active:
            raise ValueError("a YAML alias refers to the value that contains it")
        if depth > 100:
            raise ValueError("nested more than 100 levels deep")
        active.add(key)
        items = list(o.items()) if isinstance(o, dict) else [(None, v) for v in o]
        total = 1
        for k, v in items:
            if k is not None:
                total += size(k, depth + 1)
            total += size(v, depth + 1)
            if total > max_nodes:
                raise ValueError(f"YAML aliases expand past {max_nodes} values")
        active.discard(key)
        memo[key] = total
        return total

    size(obj, 0)


MAX_JSON_CONFIG_BYTES = 4 << 20  # model configs and small metadata files are a few kB


def read_small_json(path: str | Path, max_bytes: int = MAX_JSON_CONFIG_BYTES) -> Any:
    """The JSON value in ``path``, which must be at most ``max_bytes`` long (checked before reading: a config
    the size of a disk is refused, not loaded). ValueError says which bound or what parse error; OSError
    passes through."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{size} bytes, more than the {max_bytes} read from such a file")
    try:
        return json.loads(path.read_bytes())
    except ValueError as e:
        raise ValueError(f"not valid JSON ({clip(str(e).splitlines()[0] if str(e) else type(e).__name__)})") from None


class YamlFileError(ValueError):
    """A YAML file that cannot be used: ``where`` is ``":LINE"`` when the parser knows the line, else ``""``."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def read_yaml_file(path: str | Path, yaml, max_bytes: int, max_line: int) -> Any:
    """Parse the YAML file at ``path`` with ``yaml`` (a ruamel ``YAML``) within bounds: size and line length
    before reading, nesting before parsing, alias expansion and tags after. Every problem is a
    ``YamlFileError`` whose message is one short line (what the recipe loader and the zoo both report);
    OSError passes through."""

    try:
        check_text_file(path, max_bytes, max_line)
        text = Path(path).read_text(encoding="utf-8")
        check_yaml_text(text)
    except UnicodeDecodeError as e:
        raise YamlFileError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise YamlFileError(str(e)) from None
    try:
        data = yaml.load(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise YamlFileError(f"invalid YAML: {clip(getattr(e, 'problem', None) or first_line(e), 160)}", where) from None
    except RecursionError:
        raise YamlFileError("invalid YAML: nested too deeply") from None
    try:
        check_yaml_tree(data)
    except ValueError as e:
        raise YamlFileError(str(e)) from None
    return data
