"""Decoding in a warm child process, the frames handed over in shared memory, for a
long-lived process that verifies video after video (the service: Verifier.prepare_for_serving).

Why: the pipeline tracks the landmarks while the frames decode, but in one process the two
share the GIL, and dlib holds it through each 1 ms fit, so the decoding thread waits: a
served fused verify of a 3 s SD clip took 233 ms decoding in a thread, 189 ms in the child
(benchmarks/verify_latency.py, docs/results.md). The child runs decode_video as the thread would, writes each grey
frame into a shared-memory file it made for this video (/dev/shm) and says over a pipe which
frame is ready; the chroma follows at the end, with the audio and the rest of DecodedVideo.
This process maps the file and unlinks it at once, tracks the frames as they are announced,
and keeps the mapping as the DecodedVideo's arrays: the memory goes when they do.

One child for the process (shared(), whatever pipeline asks), one video at a time: a
second video while the child is busy is decoded in a thread, as without it. A child that
dies (out of memory; a /dev/shm smaller than the video: Docker's default is 64 MB,
`--shm-size` raises it) is started again for the next video, and the video it was decoding
is decoded again in a thread. decode_video's errors reach the caller as
they would from the thread.
"""

from __future__ import annotations

import mmap
import os
import secrets
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from lipauth.video.decode import BYTES_PER_PIXEL, DecodedVideo, decode_video
from lipauth.video.landmarks import LandmarkTrack

SHM_DIR = Path("/dev/shm")
DEFAULT_BYTES = 512 << 20  # the most a video's frames may take where the caller sets no max_bytes


_SHARED: "DecoderProcess | None" = None
_SHARED_LOCK = threading.Lock()


def shared() -> "DecoderProcess":
    """The process's decoder child, started on first use and closed at exit."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            import atexit

            _SHARED = DecoderProcess().start()
            atexit.register(_SHARED.close)
        return _SHARED


class _ChildGone(Exception):
    """The child process died or broke the protocol: decode in a thread instead."""


def _serve(conn) -> None:
    """The child's loop: one (path, decode_video keyword arguments) at a time; None ends it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to act on
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the parent has gone
            return
        if request is None:
            return
        # a name nobody else can guess and take first (the file is made with O_EXCL, 0600)
        _decode_one(conn, *request, name=f"lipauth-decode-{os.getpid()}-{secrets.token_hex(8)}")


def _decode_one(conn, path: str, kwargs: dict, name: str) -> None:
    state = {"n": 0, "overflow": False}
    segment: dict = {}
    try:
        _decode_into(conn, path, kwargs, name, state, segment)
    finally:
        segment.pop("grey", None)
        if "memory" in segment:
            segment["memory"].close()
        if not segment.get("announced") and (SHM_DIR / name).exists():
            (SHM_DIR / name).unlink()  # made, but the parent never heard of it


def _decode_into(conn, path: str, kwargs: dict, name: str, state: dict, segment: dict) -> None:
    def on_frame(grey: np.ndarray | None) -> None:
        if grey is None:  # decode_video starts again (a wrong frame rate): so do the frames
            state["n"] = 0
            conn.send(("restart",))
            return
        if not segment:
            h, w = grey.shape
            capacity = max(1, int((kwargs.get("max_bytes") or DEFAULT_BYTES) // (BYTES_PER_PIXEL * h * w)))
            size = int(capacity * h * w * BYTES_PER_PIXEL)
            fd = os.open(SHM_DIR / name, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            try:
                os.ftruncate(fd, size)
                segment["memory"] = mmap.mmap(fd, size)
            finally:
                os.close(fd)
            segment.update(grey=np.frombuffer(segment["memory"], np.uint8, capacity * h * w).reshape(capacity, h, w), capacity=capacity)
            conn.send(("start", name, h, w, capacity, size))
            segment["announced"] = True
        if state["n"] >= segment["capacity"]:  # more frames than the budget: sent whole at the end
            if not state["overflow"]:
                state["overflow"] = True
                conn.send(("restart",))
            return
        segment["grey"][state["n"]] = grey
        conn.send(("frame", state["n"]))
        state["n"] += 1

    try:
        video = decode_video(path, on_frame=on_frame, **kwargs)
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        conn.send(("error", exc))
        return
    if segment and not state["overflow"] and video.n_frames <= segment["capacity"]:
        h, w = video.grey.shape[1:]
        chroma = np.frombuffer(segment["memory"], np.uint8, video.chroma.size, segment["capacity"] * h * w).reshape(video.chroma.shape)
        chroma[...] = video.chroma
        del chroma
        # the rest of the DecodedVideo, its frames left out: they are in the segment
        conn.send(("end", replace(video, grey=video.grey[:0], chroma=video.chroma[:0]), video.n_frames, True))
    else:
        conn.send(("end", video, video.n_frames, False))


class DecoderProcess:
    """The child process, started on first use and again after it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process = None
        self._conn = None

    @staticmethod
    def available() -> bool:
        """Shared memory as a file (Linux): elsewhere the pipeline decodes in a thread."""
        return SHM_DIR.is_dir() and os.access(SHM_DIR, os.W_OK)

    def start(self) -> "DecoderProcess":
        """Start the child if it is not running. A plain subprocess (`python -m` this module)
        with a socket to talk over, not multiprocessing's spawn, which would import the
        caller's main script again in the child."""
        if self._process is None or self._process.poll() is not None:
            ours, theirs = socket.socketpair()
            package_root = str(Path(__file__).resolve().parents[2])  # lipauth importable there, installed or not
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "lipauth.video.decode_process", str(theirs.fileno())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env,
            )
            theirs.close()
            self._conn = Connection(ours.detach())
        return self

    def close(self) -> None:
        if self._process is not None:
            try:
                self._conn.send(None)
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
            self._conn.close()
            self._process = self._conn = None

    def decode_while_tracking(self, path, kwargs: dict, track: Callable[[Iterator[np.ndarray]], LandmarkTrack]) -> tuple[DecodedVideo, LandmarkTrack] | None:
        """As lipauth.video.pipeline.decode_while_tracking, with the decoding in the child;
        None where the child is busy with another video or died on this one (the caller
        then decodes in a thread)."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self.start()
            return self._run(str(path), kwargs, track)
        except (_ChildGone, EOFError, OSError):
            self._kill()
            return None
        finally:
            self._lock.release()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._conn.close()
            self._process = self._conn = None

    def _run(self, path: str, kwargs: dict, track) -> tuple[DecodedVideo, LandmarkTrack]:
        conn = self._conn
        conn.send((path, kwargs))
        frames: dict = {}  # the mapped segment's grey frames, once "start" came
        ended: dict = {}
        restarted = False

        def receive():
            if self._process.poll() is not None and not conn.poll():
                raise _ChildGone()
            message = conn.recv()
            kind = message[0]
            if kind == "start":
                _, name, h, w, capacity, size = message
                fd = os.open(SHM_DIR / name, os.O_RDWR)
                try:
                    frames["memory"] = mmap.mmap(fd, size)
                finally:
                    os.close(fd)
                    os.unlink(SHM_DIR / name)  # the mapping stays; the memory goes with it
                frames.update(h=h, w=w, capacity=capacity, grey=np.frombuffer(frames["memory"], np.uint8, capacity * h * w).reshape(capacity, h, w))
            elif kind == "error":
                ended["error"] = message[1]
            elif kind == "end":
                ended["end"] = message[1:]
            return message

        def stream() -> Iterator[np.ndarray]:
            nonlocal restarted
            while not ended:
                message = receive()
                if message[0] == "frame":
                    yield frames["grey"][message[1]]
                elif message[0] == "restart":
                    restarted = True
                    return

        try:
            result = track(stream())
            while not ended:  # the tracker may stop early (the face lost): the child goes on to the end
                if receive()[0] == "restart":
                    restarted = True
        except (_ChildGone, EOFError, OSError):
            raise
        except BaseException:  # the tracker failed: this video's messages are still coming
            self._kill()  # so the next video starts with a fresh child
            raise
        if "error" in ended:
            raise ended["error"]
        video, n, in_segment = ended["end"]
        if in_segment:
            h, w, capacity = frames["h"], frames["w"], frames["capacity"]
            chroma = np.frombuffer(frames["memory"], np.uint8, n * 2 * (h // 2) * (w // 2), capacity * h * w).reshape(n, 2, h // 2, w // 2)
            video = replace(video, grey=frames["grey"][:n], chroma=chroma)
        if restarted:
            result = track(iter(video.grey))
        return video, result


if __name__ == "__main__":  # the child: DecoderProcess.start runs `python -m lipauth.video.decode_process FD`
    _serve(Connection(int(sys.argv[1])))
