"""The benchmarks' load generator (benchmarks/load_client.py) against a tiny HTTP server: answers by
Content-Length, chunked, with Connection: close, and wrong answers are told apart."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from load_client import run_clients


async def _serve(mode: str, seen: list[int]):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
                body = json.loads(await reader.readexactly(length))
                n = len(body["input"]) if isinstance(body["input"], list) else 1
                seen.append(n)
                payload = json.dumps({"data": [[0.0]] * (n - 1 if mode == "wrong" else n)}).encode()
                if mode == "chunked":
                    half = len(payload) // 2
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 + b"%x\r\n%s\r\n" % (half, payload[:half])
                                 + b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload) - half, payload[half:]))
                else:
                    close = b"Connection: close\r\n" if mode == "close" else b""
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(payload), close, payload))
                await writer.drain()
                if mode == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _run(mode: str, per_request: int = 3) -> tuple[dict, list[int]]:
    seen: list[int] = []

    async def main():
        server = await _serve(mode, seen)
        port = server.sockets[0].getsockname()[1]

        def body(k, n):
            return json.dumps({"input": [f"client {k} request {n} #{i}" for i in range(per_request)]}).encode(), per_request

        async with server:
            return await run_clients(f"http://127.0.0.1:{port}", "/embeddings", body, clients=3, warmup=0.05,
                                     duration=0.3, headers={"Authorization": "Bearer x"})

    return asyncio.run(main()), seen


def test_content_length_answers_are_counted_as_ok():
    out, seen = _run("length")
    statuses = {r[2] for r in out["records"]}
    assert statuses == {200} and len(out["records"]) > 3
    assert out["all_ok"] >= len(out["records"]) and set(seen) == {3}
    assert out["cpu_s"] > 0


def test_chunked_answers_and_closed_connections_are_read():
    for mode in ("chunked", "close"):
        out, _ = _run(mode)
        assert {r[2] for r in out["records"]} == {200}, mode
        assert len(out["records"]) > 3, mode


def test_an_answer_with_the_wrong_number_of_vectors_is_an_error():
    out, _ = _run("wrong")
    assert out["records"] and {r[2] for r in out["records"]} == {-2}
    assert out["all_ok"] == 0
