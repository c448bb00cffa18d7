"""Bounds on what the suite reads from files it is given: sizes, line lengths, YAML alias expansion, and
excerpts for messages. A hostile or broken input becomes a one-line error in bounded time and memory,
never a hang, and never a message that quotes more than a short excerpt of it.

YAML is checked while it loads, between the two halves of loading: the parser composes the document into a
graph of nodes (an alias is the same node again, so a bomb of nine levels of nine is a few dozen nodes), the
graph is checked (alias expansion counted, duplicate keys, tags, nesting), and only then are objects built
from it. Nothing is ever built, printed or compared from a value that would expand past the bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from mlctl_zoo.errors import MlctlError
from mlctl_zoo.utils.files import LineTooLong, iter_line_bytes

EXCERPT_CHARS = 80
MAX_YAML_NODES = 200_000  # values after alias expansion: the largest shipped registry has a few thousand
MAX_YAML_DEPTH = 100
_CORE = "tag:yaml.org,2002:"
# the tags a plain YAML value resolves to; any other (!!python/object, !!binary, !foo) is refused
PLAIN_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge"))


class LimitError(MlctlError, ValueError):
    """An input refused by a bound on what is read (size, line length, nesting, alias expansion, a tag, a
    duplicate key, JSON that does not parse): the suite's own error, so it is one line wherever it surfaces;
    a ValueError too, for the callers that catch those."""


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
        raise LimitError(f"{size} bytes, more than the {max_bytes} read from such a file")
    try:
        for _ in iter_line_bytes(path, max_line):
            pass
    except LineTooLong as e:
        raise LimitError(f"line {e.line} is longer than {max_line} bytes") from None


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
                    raise LimitError(f"nested more than {max_depth} levels deep")
        elif ch in "]}" and depth:
            depth -= 1
    for n, line in enumerate(text.splitlines(), start=1):
        indent = len(line) - len(line.lstrip(" "))
        if indent > 2 * max_depth:
            raise LimitError(f"line {n} is indented more than {2 * max_depth} columns")


def _line(node) -> str:
    mark = getattr(node, "start_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def check_yaml_nodes(root, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH) -> None:
    """Raise YamlFileError when a composed YAML document (ruamel nodes, before any object is built) has a
    duplicate key in a mapping, a key that is not a plain value, a tag other than a plain value's, nests deeper
    than ``max_depth``, refers to itself, or would expand past ``max_nodes`` values once its aliases are
    followed. Each distinct node is visited once (an alias is the same node), so a bomb costs a few steps."""
    if root is None:
        return
    done: set[int] = set()
    active: set[int] = set()

    def check(node, depth: int) -> None:  # structure: every distinct node once
        key = id(node)
        if key in done:
            return
        if key in active:
            raise YamlFileError("a YAML alias refers to the value that contains it", _line(node))
        if depth > max_depth:
            raise YamlFileError(f"nested more than {max_depth} levels deep", _line(node))
        if node.tag not in PLAIN_TAGS:
            raise YamlFileError(f"YAML tag {excerpt(node.tag, 40)} is not allowed (plain mappings, lists and "
                                "scalars only)", _line(node))
        active.add(key)
        if isinstance(node, MappingNode):
            seen: set[tuple[str, str]] = set()
            for k, _ in node.value:
                if not isinstance(k, ScalarNode):
                    raise YamlFileError("a mapping key must be a plain value, not a list or a mapping", _line(k))
                if k.tag == _CORE + "merge":
                    continue
                if (k.tag, k.value) in seen:  # refused here, before ruamel would print both values
                    raise YamlFileError(f"duplicate key {excerpt(k.value, 40)} in a mapping (each key may appear "
                                        "once)", _line(k))
                seen.add((k.tag, k.value))
            for k, v in node.value:
                check(k, depth + 1)
                check(v, depth + 1)
        elif isinstance(node, SequenceNode):
            for v in node.value:
                check(v, depth + 1)
        active.discard(key)
        done.add(key)

    sizes: dict[int, int] = {}

    def size(node) -> int:  # values once aliases are followed, each shared node sized once
        key = id(node)
        if key in sizes:
            return sizes[key]
        total = 1
        if isinstance(node, (MappingNode, SequenceNode)):
            children = [c for pair in node.value for c in pair] if isinstance(node, MappingNode) else node.value
            for child in children:
                total += size(child)
                if total > max_nodes:
                    raise YamlFileError(f"YAML aliases expand past {max_nodes} values")
        sizes[key] = total
        return total

    check(root, 0)
    size(root)


def load_yaml_text(text: str, yaml, max_nodes: int = MAX_YAML_NODES) -> Any:
    """The value of the YAML document ``text``, loaded by ``yaml`` (a ruamel ``YAML``, safe or round-trip) in
    two halves: compose the node graph, check it (``check_yaml_nodes``), then build the objects. Every problem
    is a one-line ``YamlFileError``."""
    try:
        node = yaml.compose(text)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise YamlFileError(f"invalid YAML: {clip(getattr(e, 'problem', None) or first_line(e), 160)}", where) from None
    except RecursionError:
        raise YamlFileError("invalid YAML: nested too deeply") from None
    check_yaml_nodes(node, max_nodes)
    if node is None:
        return None
    try:
        return yaml.constructor.construct_document(node)
    except YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise YamlFileError(f"invalid YAML: {clip(getattr(e, 'problem', None) or first_line(e), 160)}", where) from None


MAX_JSON_CONFIG_BYTES = 4 << 20  # model configs and small metadata files are a few kB


def read_small_json(path: str | Path, max_bytes: int = MAX_JSON_CONFIG_BYTES) -> Any:
    """The JSON value in ``path``, which must be at most ``max_bytes`` long (checked before reading: a config
    the size of a disk is refused, not loaded). ValueError says which bound or what parse error; OSError
    passes through."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise LimitError(f"{size} bytes, more than the {max_bytes} read from such a file")
    try:
        return json.loads(path.read_bytes())
    except ValueError as e:
        raise LimitError(f"not valid JSON ({clip(str(e).splitlines()[0] if str(e) else type(e).__name__)})") from None


def read_json_object(path: str | Path) -> dict | None:
    """A small JSON file's top-level object, or None when the file is missing, unreadable, too large, not JSON
    or not an object: for optional metadata beside a model or an output, which a bad copy must not break."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        value = read_small_json(path)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class YamlFileError(LimitError):
    """A YAML file that cannot be used: ``where`` is ``":LINE"`` when the line is known, else ``""``."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def read_yaml_file(path: str | Path, yaml, max_bytes: int, max_line: int) -> Any:
    """Parse the YAML file at ``path`` with ``yaml`` (a ruamel ``YAML``) within bounds: size and line length
    before reading, nesting before parsing, alias expansion, duplicate keys and tags on the composed nodes
    before any object is built (``load_yaml_text``). Every problem is a ``YamlFileError`` whose message is one
    short line (what the recipe loader and the zoo both report); OSError passes through."""

    try:
        check_text_file(path, max_bytes, max_line)
        text = Path(path).read_text(encoding="utf-8")
        check_yaml_text(text)
    except UnicodeDecodeError as e:
        raise YamlFileError(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except ValueError as e:
        raise YamlFileError(str(e)) from None
    return load_yaml_text(text, yaml)
