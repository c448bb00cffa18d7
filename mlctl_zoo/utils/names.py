"""Zoo names (entries, recipe ``output.name``, sweep points): lower-case, no path separators, so nothing can
escape the zoo directory. Used by ``zoo``, ``config`` and ``sweep`` alike, so it lives in the ground layer."""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        raise ValueError(
            f"invalid zoo name {name!r}: use 1-64 characters of a-z 0-9 . _ -, starting with a letter or digit"
        )
    return name
