"""Audio-visual synchrony from the mouth's geometry, with nothing learned: does the mouth open
when the sound gets louder? A second opinion beside the SyncNet (lipauth.pad.avsync), which
learned from ~35 people; this needs none.

The mouth's opening per frame (the lip points' height over their width, from the landmarks
the pipeline tracked) and the audio's log energy over each frame's span, both band-passed to
2-7 Hz (the syllable rate, SciPy's Butterworth filter run forwards and backwards), are
correlated at every audio offset of +-`max_offset` frames, as SyncNet's offset curve is. The
score compares the best correlation within +-`tolerance` frames of 0 (capture devices skew
the sound by up to 2 frames) with the whole curve: (best near 0 - median) / std.

Measured on the shared videos with swapped and shifted audio (benchmarks/sync_geometry.py,
docs/pad.md): AUC 0.88 pooled against 0.92 for the bundled SyncNet; higher than it on MEAD's
studio faces (0.75 against 0.45), lower on LRS3's 1-2 s clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lipauth.clip import AUDIO_RATE, LipClip
from lipauth.errors import InvalidInputError

BAND_HZ = (2.0, 7.0)


@dataclass(frozen=True)
class GeometrySync:
    score: float  # (best correlation within the tolerance - median over offsets) / std over offsets
    best_offset: int  # frames; positive: the audio matches best when taken later
    offsets: list[int]
    correlations: list[float]


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """(T, K, 2) lip points -> (T,) height over width of the lips."""
    h = landmarks[..., 1].max(axis=1) - landmarks[..., 1].min(axis=1)
    w = landmarks[..., 0].max(axis=1) - landmarks[..., 0].min(axis=1)
    return h / np.maximum(w, 1e-6)


def frame_log_energy(audio: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """(T,) log mean square of the audio over each video frame's span (0 past its end)."""
    a = np.asarray(audio, np.float64)
    per = AUDIO_RATE / fps
    out = np.zeros(n_frames)
    for t in range(n_frames):
        seg = a[int(t * per) : int((t + 1) * per)]
        if len(seg):
            out[t] = np.log(np.mean(seg**2) + 1.0)
    return out


def band(x: np.ndarray, fps: float) -> np.ndarray:
    from scipy.signal import butter, filtfilt

    x = np.asarray(x, np.float64) - np.mean(x)
    if len(x) <= 15:  # filtfilt needs more than 3 x the filter's order of samples
        return x
    b, a = butter(2, [BAND_HZ[0] / (fps / 2), min(BAND_HZ[1] / (fps / 2), 0.95)], btype="band")
    return filtfilt(b, a, x)


def geometry_sync(clip: LipClip, *, tolerance: int = 2, max_offset: int = 15) -> GeometrySync:
    if clip.landmarks is None or clip.audio is None or not len(clip.audio):
        raise InvalidInputError("geometry synchrony needs the clip's lip landmarks and its audio")
    n = clip.n_frames
    o = band(mouth_opening(clip.landmarks), clip.fps)
    e = band(frame_log_energy(clip.audio, clip.fps, n), clip.fps)
    offsets, corr = list(range(-max_offset, max_offset + 1)), []
    for k in offsets:  # mouth frame t against audio frame t + k
        x, y = (o[: n - k], e[k:]) if k >= 0 else (o[-k:], e[: n + k])
        ok = len(x) >= 10 and x.std() > 0 and y.std() > 0
        corr.append(float(np.corrcoef(x, y)[0, 1]) if ok else 0.0)
    c = np.nan_to_num(np.asarray(corr))
    near = np.abs(np.asarray(offsets)) <= tolerance
    score = (c[near].max() - np.median(c)) / (c.std() + 1e-6)
    return GeometrySync(float(score), offsets[int(np.argmax(c))], offsets, [float(v) for v in c])
