"""Concurrent clients against a running lipauth service, and the service run as its own
process (so that it can be killed mid-request): shared by tests/test_load.py and
benchmarks/service_load.py. Loopback only."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Request:
    kind: str  # genuine, impostor, bad, oversized, unknown_user, ...
    user: str
    name: str  # the file name sent
    payload: bytes


@dataclass(frozen=True)
class Answer:
    request: Request
    status: int | None  # None: no HTTP answer (the connection broke)
    body: dict | None
    seconds: float
    error: str | None = None


def send(url: str, api_key: str, r: Request, timeout: float = 180.0) -> Answer:
    t = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout) as client:
            resp = client.post(f"{url}/v1/users/{r.user}/verify", files=[("video", (r.name, r.payload, "application/octet-stream"))], headers={"X-API-Key": api_key})
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else None
        return Answer(r, resp.status_code, body, time.perf_counter() - t)
    except httpx.HTTPError as exc:
        return Answer(r, None, None, time.perf_counter() - t, f"{type(exc).__name__}: {exc}")


def run_clients(url: str, api_key: str, requests: list[Request], clients: int) -> list[Answer]:
    """Every request sent once, `clients` at a time; answers in the requests' order."""
    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(lambda r: send(url, api_key, r), requests))


def summary(answers: list[Answer]) -> dict:
    """Requests, answers by status and error code, and latency percentiles (s)."""
    by = {}
    for a in answers:
        key = "no answer" if a.status is None else f"{a.status} {(a.body or {}).get('error', 'ok')}"
        by[key] = by.get(key, 0) + 1
    times = sorted(a.seconds for a in answers)
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    return {"requests": len(answers), "answers": dict(sorted(by.items())), "p50_s": statistics.median(times), "p99_s": p99}


class ServiceProcess:
    """`lipauth serve` in its own process on a free loopback port."""

    def __init__(self, store: str, env: dict, *args: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "lipauth.cli", "serve", "--store", store, "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lipauth serve exited: {self.proc.stderr.read().decode()[-500:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError("lipauth serve did not answer within 120 s")

    def peak_rss_bytes(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) * 1024

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a worker dies."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
