"""The HTTP edge: an error type carries its HTTP status (no handler maps names to statuses), the metrics'
endpoint labels come from the registered routes (a route added later is counted under its own path), and
the factory stays a factory."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse

from mlctl_zoo.serving.app import create_app
from mlctl_zoo.serving.errors import ApiError, ErrorType
from tests.serving.conftest import make_settings
from tests.serving.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[2]
SERVING = REPO / "mlctl_zoo" / "serving"
TYPES = [t for t in ErrorType if t is not ErrorType.HTTP_ERROR]


# ---- error types and their statuses ----------------------------------------------------------------------


def test_every_error_type_carries_its_status():
    for t in TYPES:
        assert isinstance(t.status, int) and 400 <= t.status < 600, t
        err = ApiError(t, "what went wrong")
        assert err.status == t.status and err.error_type is t
        assert ApiError(t.value, "by name").status == t.status
    assert ErrorType.INVALID_JSON.status == 400 and ErrorType.UNKNOWN_MODEL.status == 404
    assert ErrorType.INPUT_TOO_LONG.status == 413 and ErrorType.OVERLOADED.status == 429
    assert ErrorType.SHUTTING_DOWN.status == 503 and ErrorType.INTERNAL_ERROR.status == 500
    # only http_error (the framework's own HTTP errors) takes the status of the error it wraps
    assert ApiError(ErrorType.HTTP_ERROR, "teapot", status=418).status == 418
    with pytest.raises(ValueError):
        ApiError(ErrorType.HTTP_ERROR, "no status")
    with pytest.raises(ValueError):
        ApiError(ErrorType.NOT_FOUND, "a second status", status=400)
    with pytest.raises(ValueError):
        ApiError("no_such_type", "x")


def test_the_docs_table_lists_every_type_with_its_status():
    text = (REPO / "docs" / "serving.md").read_text(encoding="utf-8")
    table = text.split("## Errors: one shape", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    documented = {}
    for row in table.splitlines()[2:]:
        statuses, types = row.split("|")[1:3]
        statuses = [int(s) for s in statuses.split("/")]
        types = re.findall(r"`(\w+)`", types)
        for i, name in enumerate(types):
            documented[name] = statuses[i] if len(statuses) == len(types) else statuses[0]
    assert documented == {t.value: t.status for t in TYPES}


def _api_error_calls():
    for path in sorted(SERVING.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ApiError":
                yield path.relative_to(REPO), node


def test_handlers_name_an_error_type_never_a_status():
    calls = list(_api_error_calls())
    assert len(calls) > 20
    for where, call in calls:
        first = call.args[0]
        assert isinstance(first, ast.Attribute) and getattr(first.value, "id", None) == "ErrorType", \
            f"{where}:{call.lineno}: ApiError takes an ErrorType member first"
        status = [k for k in call.keywords if k.arg == "status"]
        assert not status or first.attr == "HTTP_ERROR", f"{where}:{call.lineno}: a status beside its type"


@pytest.fixture(scope="module")
def raising_client():
    """A server with a route added after create_app that raises any error type, or an HTTP error of its own."""
    app = create_app(make_settings(), FakeEncoder())

    @app.get("/raise/{kind}")
    async def raise_it(kind: str):
        if kind == "teapot":
            raise HTTPException(418, "I'm a teapot", headers={"X-Tea": "green"})
        raise ApiError(ErrorType(kind), f"raised {kind}", headers={"X-Kind": kind})

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("error_type", TYPES, ids=[t.value for t in TYPES])
def test_an_error_type_answers_its_status_in_the_one_shape(raising_client, error_type):
    r = raising_client.get(f"/raise/{error_type.value}")
    assert r.status_code == error_type.status
    assert r.json() == {"error": f"raised {error_type.value}", "error_type": error_type.value}
    assert r.headers["x-kind"] == error_type.value


def test_another_http_error_keeps_its_status(raising_client):
    r = raising_client.get("/raise/teapot")
    assert r.status_code == 418 and r.headers["x-tea"] == "green"
    assert r.json() == {"error": "I'm a teapot", "error_type": "http_error"}
    assert 'mlctl_serve_errors_total{error_type="http_error"}' in raising_client.get("/metrics").text


# ---- metrics labels from the registered routes -----------------------------------------------------------


def _requests_total(text: str) -> dict[tuple[str, str], float]:
    """{(endpoint, status): count} from mlctl_serve_requests_total."""
    out = {}
    for m in re.finditer(r'mlctl_serve_requests_total\{endpoint="([^"]*)",model="[^"]*",status="(\d+)"\} (\S+)',
                         text):
        out[(m[1], m[2])] = out.get((m[1], m[2]), 0) + float(m[3])
    return out


@pytest.mark.parametrize("api_key", [None, "s3cret"])
def test_a_route_added_later_is_counted_under_its_own_path(api_key):
    app = create_app(make_settings(api_key=api_key), FakeEncoder())
    plugin = APIRouter()

    @plugin.get("/items/{item}")
    async def item(item: str):
        return {"item": item}

    @app.post("/v1/rerank")
    async def rerank():
        return {"ok": True}

    app.include_router(plugin, prefix="/plugin")
    app.add_route("/plain", lambda request: PlainTextResponse("plain"))
    key = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with TestClient(app) as c:
        calls = [("POST", "/v1/rerank", None), ("GET", "/plugin/items/7", None), ("GET", "/plugin/items/8", None),
                 ("GET", "/plain", None), ("POST", "/v1/embeddings", {"input": "x"}),
                 ("POST", "/models/tiny/embed", {"inputs": "x"}), ("GET", "/v1/rerank", None),
                 ("GET", "/no/such/path", None)]
        statuses = [c.request(method, path, headers=key, json=body).status_code for method, path, body in calls]
        if api_key:  # refused before routing: still counted under the route that would have answered
            c.request("POST", "/v1/rerank")
            c.request("GET", "/plugin/items/9")
        counts = _requests_total(c.get("/metrics").text)
    assert statuses == [200] * 6 + [405, 404]
    assert counts[("/v1/rerank", "200")] == 1 and counts[("/plugin/items/{item}", "200")] == 2
    assert counts[("/plain", "200")] == 1 and counts[("/v1/rerank", "405")] == 1
    assert counts[("/v1/embeddings", "200")] == 1 and counts[("/models/{name}/embed", "200")] == 1
    assert counts[("other", "404")] == 1 and sum(v for (e, _), v in counts.items() if e == "other") == 1
    if api_key:
        assert counts[("/v1/rerank", "401")] == 1 and counts[("/plugin/items/{item}", "401")] == 1


# ---- the factory stays a factory -------------------------------------------------------------------------


def test_app_py_is_a_factory_and_no_function_is_long():
    assert len((SERVING / "app.py").read_text(encoding="utf-8").splitlines()) <= 450
    long = []
    for path in sorted(SERVING.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 120:
                long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert not long, f"functions over 120 lines: {long}"
