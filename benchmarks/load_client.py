"""The loopback load generator every serving benchmark uses: closed-loop clients speaking plain HTTP/1.1 with
keep-alive over asyncio streams.

On 2 cores the load generator shares the CPU with the server it measures, so what it spends per request is
taken from the server. This client writes a prepared request and reads the answer by its Content-Length
(chunked answers are read too); each run records its own CPU per request (``load_generator_cpu_ms_per_request``
in the JSON: about 0.3 ms per one-sentence request here, where aiohttp's client had spent 0.7-1.0 ms). Every
server measured (ours, Infinity) gets the same client, so comparisons stay like for like.

Each answer is checked: status 200 and a JSON body whose ``data`` holds one vector per input (else the
request counts as an error, ``-2``). A connection the server closes is reopened; a failed request is ``-1``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import orjson


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif key == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            payload = b"".join(parts)
        elif length is not None:
            payload = await self.reader.readexactly(length)
        else:
            payload = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, payload


async def run_clients(url: str, path: str, make_body: Callable[[int, int], tuple[bytes, int]], clients: int,
                      warmup: float, duration: float, max_requests: int = 10**9, timeout: float = 300.0,
                      headers: dict[str, str] | None = None) -> dict:
    """CLIENTS closed-loop clients for WARMUP + DURATION seconds against ``url + path`` (POST, JSON).

    ``make_body(client, n)`` gives the n-th request body of a client and the number of inputs it holds.
    Returns ``records`` (completed at, latency s, status) for the responses completed inside the measured
    window, ``all_ok`` (200s over the whole run, warm-up included), ``cpu_s`` (this process's CPU time) and
    ``requests`` (sent in all). Clients stop at the window's end; requests still in flight are abandoned."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())).encode()
    records: list[tuple[float, float, int]] = []
    counters = {"all_ok": 0, "requests": 0}
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + duration
    cpu0 = time.process_time()

    async def client(k: int) -> None:
        conn = _Connection(host, port)
        n = 0
        try:
            while time.perf_counter() < end and counters["requests"] < max_requests:
                counters["requests"] += 1
                body, inputs = make_body(k, n)
                n += 1
                t0 = time.perf_counter()
                try:
                    status, payload = await asyncio.wait_for(conn.post(head, body), timeout)
                    if status == 200 and len(orjson.loads(payload)["data"]) != inputs:
                        status = -2  # a wrong answer
                except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                    conn.close()
                    status = -1
                done = time.perf_counter()
                counters["all_ok"] += status == 200
                if measure_from <= done <= end:
                    records.append((done, done - t0, status))
        finally:
            conn.close()

    tasks = [asyncio.create_task(client(k)) for k in range(clients)]
    await asyncio.wait(tasks, timeout=max(0.0, end - time.perf_counter()) + 0.01)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"records": records, "all_ok": counters["all_ok"], "requests": counters["requests"],
            "cpu_s": time.process_time() - cpu0, "measure_from": measure_from}
