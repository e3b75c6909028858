"""One heavy request at a time, and a bounded line for the rest: past `max_waiting` waiting
requests, or after `wait_s` in line, a request is turned away at once with 503 and a
Retry-After, rather than joining a queue that grows without bound."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class Busy(Exception):
    code = "busy"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class WorkGate:
    def __init__(self, *, max_waiting: int = 8, wait_s: float = 60.0) -> None:
        self._work = threading.Lock()
        self._count = threading.Lock()
        self.waiting = 0
        self.max_waiting = max_waiting
        self.wait_s = wait_s

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._count:
            if self.waiting >= self.max_waiting:
                raise Busy(f"the service is busy ({self.waiting} requests waiting); try again shortly", retry_after_s=max(1, round(self.wait_s / 4)))
            self.waiting += 1
        try:
            got = self._work.acquire(timeout=self.wait_s)
        finally:
            with self._count:
                self.waiting -= 1
        if not got:
            raise Busy(f"the service is busy: no turn within {self.wait_s:g} s; try again shortly", retry_after_s=max(1, round(self.wait_s / 4)))
        try:
            yield
        finally:
            self._work.release()
