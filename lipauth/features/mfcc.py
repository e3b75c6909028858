"""HTK-style MFCCs from a waveform, their deltas, and features aligned with video frames.

The features follow HTK's MFCC_E, which is what AVLetters ships: pre-emphasis 0.97, a 25 ms
Hamming window every 10 ms, 26 triangular mel filters, 12 cepstra (c1..c12) liftered with
L = 22, then the log frame energy. Deltas use HTK's regression formula over +-2 frames with
the edge frames repeated, so deltas computed here from AVLetters' statics equal the deltas
in its files (tested).

Written with numpy/scipy rather than librosa: librosa's first MFCC call in a process costs
2-18 s here (numba compilation), which a one-shot `lipauth verify` cannot afford. The mel
filter bank is tested against librosa's (htk=True), and the deltas against HTK's own.
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dct

from lipauth.clip import AUDIO_RATE, LipClip
from lipauth.errors import InvalidInputError

N_STATIC = 13  # c1..c12 + log energy, in HTK's order
FIXED_SCALE = 10.0  # brings liftered cepstra and log energy to about unit range, without CMVN


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, equally spaced on HTK's mel scale."""
    fmax = sample_rate / 2 if fmax is None else fmax
    mel = lambda f: 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0.0, np.minimum(lower, upper))


def mfcc(audio: np.ndarray, sample_rate: int = AUDIO_RATE, *, n_cepstra: int = 12, n_mels: int = 26, window_s: float = 0.025, hop_s: float = 0.010, preemphasis: float = 0.97, lifter: int = 22) -> np.ndarray:
    """(frames, n_cepstra + 1) float32: c1..c{n_cepstra} then log energy, one row per hop."""
    x = np.asarray(audio, np.float64).ravel()
    if np.issubdtype(np.asarray(audio).dtype, np.integer):
        x = x / 32768.0
    win, hop = int(round(window_s * sample_rate)), int(round(hop_s * sample_rate))
    if len(x) < win:
        raise InvalidInputError(f"audio too short for MFCCs: {len(x)} samples, at least {win} needed")
    n = 1 + (len(x) - win) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n].copy()
    frames -= frames.mean(axis=1, keepdims=True)  # HTK removes each frame's DC offset
    energy = np.log(np.maximum((frames**2).sum(axis=1), 1e-10))
    frames[:, 1:] -= preemphasis * frames[:, :-1]
    frames[:, 0] *= 1 - preemphasis
    n_fft = 1 << (win - 1).bit_length()
    power = np.abs(np.fft.rfft(frames * np.hamming(win), n=n_fft)) ** 2
    logmel = np.log(np.maximum(power @ mel_filterbank(n_mels, n_fft, sample_rate).T, 1e-10))
    cep = dct(logmel, type=2, norm="ortho", axis=1)[:, 1 : n_cepstra + 1]
    k = np.arange(1, n_cepstra + 1)
    cep *= 1 + (lifter / 2) * np.sin(np.pi * k / lifter)
    return np.hstack([cep, energy[:, None]]).astype(np.float32)


def deltas(features: np.ndarray, width: int = 2) -> np.ndarray:
    """HTK regression deltas over +-width frames, edge frames repeated."""
    f = np.asarray(features, np.float32)
    padded = np.pad(f, ((width, width), (0, 0)), mode="edge")
    t = len(f)
    num = sum(k * (padded[width + k : width + k + t] - padded[width - k : width - k + t]) for k in range(1, width + 1))
    return (num / (2 * sum(k * k for k in range(1, width + 1)))).astype(np.float32)


def statics_at(times: np.ndarray, statics: np.ndarray, rate: float) -> np.ndarray:
    """Static features linearly interpolated at `times` (s), for a feature stream at `rate` Hz."""
    grid = np.arange(len(statics)) / rate
    return np.stack([np.interp(times, grid, statics[:, j]) for j in range(statics.shape[1])], axis=1).astype(np.float32)


def video_aligned_features(clip: LipClip, *, cmvn: bool = True) -> np.ndarray:
    """(2T-1, 13, 3) float32 audio features at twice the video rate, feature k at time
    k / (2 fps), so feature 2t lines up with video frame t (AVLetters' convention): statics,
    deltas and delta-deltas.

    cmvn=True normalises each coefficient over the utterance: right for synchrony (only the
    timing matters), wrong for recognising the speaker (the mean cepstrum carries the voice),
    so the voice branch takes cmvn=False, with a fixed scaling instead.

    From the clip's waveform where it has one (video files), else from a corpus's shipped
    HTK MFCC_E(_D) statics (AVLetters)."""
    times = np.arange(2 * clip.n_frames - 1) / (2 * clip.fps)
    if clip.audio is not None and len(clip.audio) > 0:
        statics = statics_at(times, mfcc(clip.audio, AUDIO_RATE), rate=100.0)
    elif clip.audio_features is not None and clip.audio_features_rate:
        shipped = np.asarray(clip.audio_features, np.float32)
        if shipped.ndim != 2 or shipped.shape[1] < N_STATIC:
            raise InvalidInputError(f"{clip.meta.clip_id}: audio features must be (frames, >= {N_STATIC}), got {shipped.shape}")
        statics = statics_at(times, shipped[:, :N_STATIC], rate=clip.audio_features_rate)
    else:
        raise InvalidInputError(f"{clip.meta.clip_id}: the clip has no audio track and no audio features")
    d1 = deltas(statics)
    stacked = np.stack([statics, d1, deltas(d1)], axis=2)
    if not cmvn:
        return (stacked / FIXED_SCALE).astype(np.float32)
    mu, sd = stacked.mean(axis=0, keepdims=True), stacked.std(axis=0, keepdims=True)
    return ((stacked - mu) / np.maximum(sd, 1e-3)).astype(np.float32)


def has_audio(clip: LipClip) -> bool:
    return (clip.audio is not None and len(clip.audio) > AUDIO_RATE // 10) or clip.audio_features is not None
