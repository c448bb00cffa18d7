"""Deterministic stand-ins for an encoder, and a uvicorn server in a thread on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time

import numpy as np


def fake_vector(text: str, dim: int) -> np.ndarray:
    """A vector that depends only on the text, so a mix-up between requests shows."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class FakeTokenizer:
    """Counts whitespace words + 2 special tokens, like a tokenizer's ``input_ids`` lengths."""

    def __call__(self, texts, **kwargs):
        return {"input_ids": [[0] * (len(t.split()) + 2) for t in texts]}


class FakeEncoder:
    """The ``Encoder`` interface, deterministic, with an optional delay per batch; records batch sizes."""

    def __init__(self, dim: int = 16, *, delay: float = 0.0, max_length: int = 64, name: str = "fake",
                 fail_on: str | None = None) -> None:
        self.dim = dim
        self.delay = delay
        self.max_length = max_length
        self.name = name
        self.pooling = "mean"
        self.tokenizer = FakeTokenizer()
        self.fail_on = fail_on
        self.batches: list[int] = []
        self._lock = threading.Lock()

    def encode(self, texts, batch_size=32, normalize=False, progress=None):
        with self._lock:
            self.batches.append(len(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("boom")
        if self.delay:
            time.sleep(self.delay)
        out = np.stack([fake_vector(t, self.dim) for t in texts])
        if normalize:
            out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60, proc=None) -> None:
    """Poll ``GET /health`` until 200; fail early if the server ``proc`` (a Popen) exited."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited early ({proc.returncode}): {proc.stdout.read()}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready after {timeout}s")


def stop_process(proc, timeout: float = 30) -> str:
    """SIGTERM a server process (a Popen with text stdout), kill it if it lingers; its output."""
    import signal

    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.stdout.read()


@contextlib.contextmanager
def live_server(app, timeout: float = 20.0):
    """Run ``app`` under uvicorn in a thread on a free loopback port; yields the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, timeout)
    except AssertionError:
        server.should_exit = True
        raise
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
