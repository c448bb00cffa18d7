"""What every benchmark that drives a server process needs: a free loopback port, and waiting for the first 200
on ``/health`` (mlctl-zoo serve and Infinity alike) while watching that the process is still alive."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float, poll: float = 0.05) -> float:
    """Seconds until ``GET url/health`` answers 200; RuntimeError when the process exits first or after
    ``timeout`` seconds."""
    import httpx

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}) before it was ready")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(poll)
    raise RuntimeError(f"server not ready after {timeout}s")
