"""The GE2E speaker encoder (Wan et al., ICASSP 2018) as Resemblyzer trained and ships it, run
here: a 3-layer LSTM (256 units) over 40 mel bands, its last hidden state through a linear
layer and a ReLU, L2-normalised; an utterance is the mean of 1.6 s partial windows.

Why not `import resemblyzer`: its package names `webrtcvad`, an sdist that imports
`pkg_resources` (gone from setuptools 81 on) and needs a C compiler, so a plain `pip install`
of lipauth could not bring the voice of its default decision. The weights (Resemblyzer's
`pretrained.pt`, Apache-2.0; its network's state only, not the optimiser's) ship as
lipauth/assets/ge2e.pt, the VAD comes from `webrtcvad-wheels` (the same C module, prebuilt) and
the mel front end from librosa, as Resemblyzer's do. `tests/test_encoders.py` checks this
against Resemblyzer itself where it is installed (the Makefile's dev set-up): the same
vectors to 1e-5.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lipauth.artifacts import artifact_id, bundled, load_artifact

FORMAT = "lipauth-ge2e/1"
WEIGHTS = "ge2e.pt"
RATE = 16000
MELS = 40
WINDOW_MS, STEP_MS = 25, 10  # the mel frames
PARTIAL_FRAMES = 160  # 1.6 s of mel frames a partial window holds
PARTIALS_PER_S, MIN_COVERAGE = 1.3, 0.75  # how often partial windows start; the last one's least share of real audio
VAD_MS, VAD_SMOOTHING, VAD_MAX_SILENCE = 30, 8, 6  # webrtcvad windows; moving average; silent windows kept between speech
TARGET_DBFS = -30.0  # quiet audio is raised to this level (never lowered)
INT16_MAX = 2**15 - 1


class GE2ENet(nn.Module):
    def __init__(self, hidden: int = 256, layers: int = 3, dim: int = 256) -> None:
        super().__init__()
        self.lstm = nn.LSTM(MELS, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, dim)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """(B, PARTIAL_FRAMES, MELS) mel frames -> (B, dim) unit vectors."""
        _, (hidden, _) = self.lstm(mels)
        z = torch.relu(self.linear(hidden[-1]))
        return z / torch.norm(z, dim=1, keepdim=True)


def load_ge2e(path=None) -> tuple[GE2ENet, str]:
    """The network with the shipped weights, and the weights file's id."""
    path = path or bundled(WEIGHTS)
    blob = load_artifact(path, FORMAT, "GE2E speaker-encoder weights")
    net = GE2ENet()
    net.load_state_dict(blob["state_dict"])
    return net.eval(), artifact_id(path)


def louder(wave: np.ndarray) -> np.ndarray:
    """Raised to TARGET_DBFS where it is quieter; left as it is where it is louder."""
    rms = np.sqrt(np.mean((wave * INT16_MAX) ** 2))
    change = TARGET_DBFS - 20 * np.log10(max(rms, 1e-12) / INT16_MAX)
    return wave if change < 0 else wave * 10 ** (change / 20)


def speech_only(wave: np.ndarray) -> np.ndarray:
    """The wave with its silences longer than ~0.2 s taken out: webrtcvad (aggressiveness 3) on
    30 ms windows, its flags smoothed over 8 windows and dilated by 6 either side."""
    import webrtcvad
    from scipy.ndimage import binary_dilation

    per = VAD_MS * RATE // 1000
    wave = wave[: len(wave) - len(wave) % per]
    pcm = np.round(wave * INT16_MAX).astype("<i2").tobytes()
    vad = webrtcvad.Vad(3)
    flags = np.array([vad.is_speech(pcm[2 * s : 2 * (s + per)], sample_rate=RATE) for s in range(0, len(wave), per)], float)
    if not len(flags):
        return wave[:0]
    padded = np.concatenate([np.zeros((VAD_SMOOTHING - 1) // 2), flags, np.zeros(VAD_SMOOTHING // 2)])
    sums = np.cumsum(padded)
    sums[VAD_SMOOTHING:] = sums[VAD_SMOOTHING:] - sums[:-VAD_SMOOTHING]
    smoothed = np.round(sums[VAD_SMOOTHING - 1 :] / VAD_SMOOTHING).astype(bool)
    keep = binary_dilation(smoothed, np.ones(VAD_MAX_SILENCE + 1))
    return wave[np.repeat(keep, per)]


def mel_frames(wave: np.ndarray) -> np.ndarray:
    """(T, MELS) float32 mel power spectrogram (not log), 25 ms windows every 10 ms."""
    import librosa

    m = librosa.feature.melspectrogram(y=wave, sr=RATE, n_fft=RATE * WINDOW_MS // 1000, hop_length=RATE * STEP_MS // 1000, n_mels=MELS)
    return m.astype(np.float32).T


def partial_windows(n_samples: int) -> list[slice]:
    """The mel-frame spans of the partial windows over an utterance of n_samples: one every
    1/PARTIALS_PER_S s, the last dropped where less than MIN_COVERAGE of it is real audio."""
    per_frame = RATE * STEP_MS // 1000
    n_frames = int(np.ceil((n_samples + 1) / per_frame))
    step = int(np.round(RATE / PARTIALS_PER_S / per_frame))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    spans = [slice(s, s + PARTIAL_FRAMES) for s in starts]
    last = spans[-1]
    if (n_samples - last.start * per_frame) / (PARTIAL_FRAMES * per_frame) < MIN_COVERAGE and len(spans) > 1:
        spans = spans[:-1]
    return spans


@torch.no_grad()
def embed_speech(net: GE2ENet, wave: np.ndarray) -> np.ndarray:
    """(256,) unit vector of speech already through louder() and speech_only()."""
    spans = partial_windows(len(wave))
    needed = spans[-1].stop * (RATE * STEP_MS // 1000)
    if needed >= len(wave):
        wave = np.pad(wave, (0, needed - len(wave)))
    mel = mel_frames(wave)
    partials = net(torch.from_numpy(np.stack([mel[s] for s in spans])))
    mean = partials.mean(dim=0).numpy()
    return (mean / np.linalg.norm(mean)).astype(np.float32)
