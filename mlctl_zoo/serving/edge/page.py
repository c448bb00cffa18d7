"""The try-it page, ``GET /`` and ``GET /ui`` (``serving/ui.py``); not routed with ``--no-ui``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mlctl_zoo.serving.ui import CONTENT_SECURITY_POLICY, ui_page

router = APIRouter()
_PAGE = ui_page()
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY}


@router.get("/", include_in_schema=False)
@router.get("/ui", summary="A page to try the models (similarity heatmap, corpus search)")
async def ui():
    return Response(_PAGE, media_type="text/html; charset=utf-8", headers=_HEADERS)
