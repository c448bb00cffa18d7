"""Graceful shutdown: on SIGTERM the server stops taking connections and in-flight requests finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from tests.serving.fakes import fake_vector, free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from mlctl_zoo.serving.server import serve
from mlctl_zoo.serving.settings import ServeSettings
from tests.serving.fakes import FakeEncoder

serve(ServeSettings(model="fake", port=int(sys.argv[1]), graceful_timeout_s=20, log_level="info"),
      encoder=FakeEncoder(delay=float(sys.argv[2])))
"""


def test_sigterm_lets_in_flight_requests_finish():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port), "2.0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_ready(url, 60, proc)
        results: dict = {}

        def slow_request():
            try:
                results["response"] = httpx.post(url + "/embed", json={"inputs": ["in flight", "too"],
                                                                       "normalize": False}, timeout=30)
            except httpx.HTTPError as e:  # recorded, asserted below
                results["error"] = repr(e)

        t = threading.Thread(target=slow_request)
        t.start()
        deadline = time.monotonic() + 10
        while 'mlctl_serve_requests_in_flight{model="fake"} 1.0' not in httpx.get(url + "/metrics").text:
            assert time.monotonic() < deadline, "the request never became in-flight"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert "error" not in results, results
        r = results["response"]
        assert r.status_code == 200
        np.testing.assert_allclose(r.json(), [fake_vector("in flight", 16), fake_vector("too", 16)], atol=1e-6)
        proc.wait(30)
        log = proc.stdout.read()
        assert proc.returncode in (0, -signal.SIGTERM), (proc.returncode, log)
        assert "Shutting down" in log and "Finished server process" in log
        try:
            httpx.get(url + "/health", timeout=2)
            raise AssertionError("the server still answers after shutdown")
        except httpx.ConnectError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


LOADING_SCRIPT = """
import sys, time
from mlctl_zoo.serving.server import serve
from mlctl_zoo.serving.settings import ServeSettings

def never_ready(settings):
    time.sleep(300)  # an export that takes long

serve(ServeSettings(model="fake", port=int(sys.argv[1])), loader=never_ready)
"""


def test_sigterm_while_the_model_loads_exits_promptly():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", LOADING_SCRIPT, str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "server never answered"
            try:
                r = httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert r.status_code == 503 and r.json()["error_type"] == "not_ready"
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        assert time.monotonic() - start < 20  # not the 300 s the load would take
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
