"""Headless Debian Chromium for the page tests, driven by Selenium through Debian's
chromedriver, with a fake camera and microphone fed from files (Chromium's
--use-file-for-fake-video-capture / --use-file-for-fake-audio-capture), so the page's
MediaRecorder produces the WebM a real browser would."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import av
import numpy as np


class BrowserUnavailable(Exception):
    pass


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        raise BrowserUnavailable("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver; `make test` does this where apt-get and root are available)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("selenium is not installed (pip install 'lipauth[dev]')") from None
    return browser, driver


def fake_capture_files(video: Path, out: Path, tail_s: float = 1.5, lead_s: float = 0.0) -> tuple[Path, Path]:
    """The video's frames as Y4M and its audio as 16-bit WAV, for Chromium's fake devices,
    after `lead_s` of the first frame and silence (the page's countdown, while the camera
    is on and the file plays) and followed by `tail_s` of the clip played backwards and silence (the
    page records a little longer than a GRID sentence). Chromium loops the files."""
    from lipauth.clip import AUDIO_RATE
    from lipauth.video.decode import decode_video

    v = decode_video(video)
    # the tail plays the clip's last frames back and forth (a person holding still still
    # moves; a frozen frame is what the motion check looks for in a replayed photo)
    n_tail = int(round(tail_s * v.fps))
    swing = np.concatenate([v.frames[::-1], v.frames])
    frames = np.concatenate([np.repeat(v.frames[:1], int(round(lead_s * v.fps)), axis=0), v.frames, np.resize(swing, (n_tail, *v.frames.shape[1:]))])
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    y4m = out / f"{video.stem}.y4m"
    with av.open(str(y4m), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=int(round(v.fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    audio = np.concatenate([np.zeros(int(round(lead_s * v.fps)) * AUDIO_RATE // int(round(v.fps)), np.int16), v.audio, np.zeros(int(tail_s * AUDIO_RATE), np.int16)])
    wav = out / f"{video.stem}.wav"
    with wave.open(str(wav), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(AUDIO_RATE)
        fh.writeframes(audio.astype("<i2").tobytes())
    return y4m, wav


def headless_chromium(y4m: Path, wav: Path, downloads: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for the tests
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        # this machine's network is closed: no background connections, no component updates
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}", f"--use-file-for-fake-audio-capture={wav}",
        "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={downloads / 'profile'}", "--window-size=1000,1400",
    ):  # fmt: skip
        options.add_argument(flag)
    try:
        return webdriver.Chrome(options=options, service=Service(executable_path=driver))
    except Exception as exc:  # selenium raises its own WebDriverException subclasses
        raise BrowserUnavailable(f"headless Chromium did not start: {str(exc).splitlines()[0]}") from None
