"""One heavy request at a time, a bounded line for the rest, and a deadline for each: past
`max_waiting` waiting requests, or after `wait_s` in line, a request is turned away at once
with 503 and a Retry-After, rather than joining a queue that grows without bound; a request
not done `timeout_s` after it arrived is answered 503 (`timed_out`) at that moment.

Python cannot stop a thread, so work that has begun when its deadline passes runs to its end
in the background (holding the turn, so nothing else piles up beside it); what bounds that
is the pipeline's own bound on memory and time per video (docs/service.md). Work still in
line at its deadline gives up without starting."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

T = TypeVar("T")


class Busy(Exception):
    code = "busy"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class TimedOut(Busy):
    code = "timed_out"


class WorkGate:
    def __init__(self, *, max_waiting: int = 8, wait_s: float = 60.0, timeout_s: float | None = None) -> None:
        self._work = threading.Lock()
        self._count = threading.Lock()
        self.waiting = 0
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self.timeout_s = timeout_s
        # one thread per request that may be working or in line, and one whose deadline passed
        self._pool = ThreadPoolExecutor(max_workers=max_waiting + 2, thread_name_prefix="lipauth-work") if timeout_s else None
        self._deadline = threading.local()

    def _retry_after(self) -> int:
        return max(1, round(self.wait_s / 4))

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._count:
            if self.waiting >= self.max_waiting:
                raise Busy(f"the service is busy ({self.waiting} requests waiting); try again shortly", retry_after_s=self._retry_after())
            self.waiting += 1
        deadline = getattr(self._deadline, "at", None)
        wait = self.wait_s if deadline is None else max(0.0, min(self.wait_s, deadline - time.monotonic()))
        try:
            got = self._work.acquire(timeout=wait)
        finally:
            with self._count:
                self.waiting -= 1
        if not got:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimedOut(f"the request took longer than {self.timeout_s:g} s; try again shortly", retry_after_s=self._retry_after())
            raise Busy(f"the service is busy: no turn within {self.wait_s:g} s; try again shortly", retry_after_s=self._retry_after())
        try:
            yield
        finally:
            self._work.release()

    def run(self, work: Callable[[], T]) -> T:
        """work() (which takes its turn()) under this gate's deadline: its result, its error,
        or TimedOut once `timeout_s` have passed."""
        if self._pool is None:
            return work()
        deadline = time.monotonic() + self.timeout_s

        def job() -> T:
            self._deadline.at = deadline
            try:
                return work()
            finally:
                self._deadline.at = None

        future = self._pool.submit(job)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise TimedOut(f"the request took longer than {self.timeout_s:g} s; try again shortly", retry_after_s=self._retry_after()) from None
