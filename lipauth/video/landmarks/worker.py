"""Landmark tracking in a warm child process, beside the decoding in this one.

dlib keeps the GIL while it fits a face (~1 ms a frame), so a decoding thread in the same
process waits for every fit, and two cores do the work of about one and a half. Here the
decoder sends each grey frame down a pipe as it comes out and a child process that holds its
own copy of the backend tracks it; the two run on both cores. The track is the same: the
same backend with the same options, the same frames, in order.

One worker per backend and options in a process, started on first use by a long-lived
process (`Verifier.prepare_for_serving`); one clip at a time through it (a second caller
meanwhile tracks in its own process, as without a worker). A worker that dies or hangs is
dropped and the clip is tracked here; nothing is lost but the time.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import struct
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Callable

import numpy as np

from lipauth.video.landmarks.base import LandmarkTrack

_HEAD = struct.Struct("<cII")  # b"F", height, width; then the frame's bytes
_END = b"E"
RESULT_TIMEOUT_S = 30.0  # a track not back by then: the worker is taken as hung


def _serve(frames_conn, results_conn, backend: str, options: dict) -> None:
    """The child: make the backend once, then track clip after clip."""
    from lipauth.video.landmarks import create_backend

    tracker = create_backend(backend, **options)
    results_conn.send("ready")
    while True:
        try:
            start = frames_conn.recv()
        except EOFError:
            return
        if start is None:
            return
        incoming: queue.SimpleQueue = queue.SimpleQueue()

        def read() -> None:  # keeps the pipe drained, so the decoder never waits on tracking
            while True:
                data = frames_conn.recv_bytes()
                if data[:1] == _END:
                    incoming.put(None)
                    return
                _, h, w = _HEAD.unpack_from(data)
                incoming.put(np.frombuffer(data, np.uint8, count=h * w, offset=_HEAD.size).reshape(h, w))

        reader = threading.Thread(target=read, name="lipauth-frames", daemon=True)
        reader.start()

        def frames():
            while (frame := incoming.get()) is not None:
                yield frame

        try:
            result: Any = tracker.track(frames(), max_missing_run=start["max_missing_run"])
        except Exception as exc:  # sent back, raised there
            result = exc
        reader.join()  # tracking may stop early: the rest of the clip's frames are read and dropped
        results_conn.send(result)


class WorkerGone(Exception):
    """The worker died or hung: track in this process instead."""


class TrackingWorker:
    def __init__(self, backend: str, options: dict) -> None:
        # A new interpreter running this module (not multiprocessing's spawn, which imports
        # the caller's __main__ again, nor fork, unsafe beside torch's threads); its stdin
        # and stdout are the two pipes.
        self._process = subprocess.Popen(
            [sys.executable, "-m", "lipauth.video.landmarks.worker", backend, json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )
        _widen(self._process.stdin.fileno())
        self._frames = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._results = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self.lock = threading.Lock()
        try:
            ready = self._results.poll(RESULT_TIMEOUT_S) and self._results.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close()
            raise WorkerGone("the tracking worker did not start")

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def track(self, decode: Callable[[Callable[[np.ndarray | None], None]], Any], max_missing_run: int | None) -> tuple[Any, LandmarkTrack]:
        """Run decode(on_frame) here, every frame it gives tracked there: (what decode
        returned, the track). on_frame(None) (decode_video's second pass) starts the track
        again. WorkerGone where the worker failed; decode's own errors pass through."""
        state = {"open": False, "broken": None}

        def begin() -> None:
            self._frames.send({"max_missing_run": max_missing_run})
            state["open"] = True

        def end() -> LandmarkTrack:
            self._frames.send_bytes(_END)
            state["open"] = False
            if not self._results.poll(RESULT_TIMEOUT_S):
                raise WorkerGone("the tracking worker did not answer")
            result = self._results.recv()
            if isinstance(result, Exception):
                raise result
            return result

        def on_frame(frame: np.ndarray | None) -> None:
            if state["broken"] is not None:
                return
            try:
                if frame is None:  # the frames so far are void and come again
                    end()
                    begin()
                    return
                h, w = frame.shape
                self._frames.send_bytes(_HEAD.pack(b"F", h, w) + np.ascontiguousarray(frame).tobytes())
            except (OSError, EOFError, WorkerGone) as exc:
                state["broken"] = exc

        try:
            begin()
        except (OSError, EOFError) as exc:
            raise WorkerGone(str(exc)) from exc
        try:
            out = decode(on_frame)
        except BaseException:
            if state["open"] and state["broken"] is None:
                end_quietly(end)
            raise
        if state["broken"] is not None:
            raise WorkerGone(str(state["broken"]))
        try:
            return out, end()
        except (OSError, EOFError) as exc:
            raise WorkerGone(str(exc)) from exc

    def close(self) -> None:
        try:
            self._frames.send(None)
        except (OSError, ValueError):
            pass
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for conn in (self._frames, self._results):
            conn.close()


def _widen(fd: int) -> None:
    """A pipe that holds a few whole frames (Linux: 64 KiB by default, 1 MiB at most without
    privileges): the worker then reads a frame in one call, each call waiting for the GIL
    that dlib holds while it fits."""
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):  # not Linux, or a lower limit: the default size works, slower
        pass


def end_quietly(end: Callable[[], Any]) -> None:
    """Close an open track after a decoding error (its result is of no use)."""
    try:
        end()
    except Exception:  # the decoding error is the one to report
        pass


_WORKERS: dict[tuple, TrackingWorker] = {}
_STARTING = threading.Lock()


def shared_worker(backend: str, options: dict) -> TrackingWorker | None:
    """This process's worker for the backend and options, started on first use; None where
    one cannot start (the clip is then tracked here)."""
    key = (backend, tuple(sorted(options.items())))
    with _STARTING:
        worker = _WORKERS.get(key)
        if worker is not None and not worker.alive:
            _WORKERS.pop(key).close()
            worker = None
        if worker is None:
            try:
                worker = _WORKERS[key] = TrackingWorker(backend, options)
            except (WorkerGone, OSError):
                return None
        return worker


def drop(worker: TrackingWorker) -> None:
    with _STARTING:
        for key, w in list(_WORKERS.items()):
            if w is worker:
                del _WORKERS[key]
    worker.close()


@atexit.register
def _close_all() -> None:
    for w in list(_WORKERS.values()):
        w.close()
    _WORKERS.clear()


if __name__ == "__main__":  # the worker itself: python -m lipauth.video.landmarks.worker BACKEND OPTIONS
    frames_conn, results_conn = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    os.dup2(2, 1)  # anything printed goes to stderr, not into the results pipe
    _serve(frames_conn, results_conn, sys.argv[1], json.loads(sys.argv[2]))
