"""Audio-visual synchrony: does the voice on a video come from the mouth on it?

After Torfi et al. 2017 ("3D convolutional neural networks for cross audio-visual matching
recognition") and SyncNet (Chung & Zisserman 2016): a coupled 3D CNN maps a short window of
mouth frames and the audio features over the same span into one space, trained with a
contrastive loss so that in-sync pairs lie close and shifted or swapped audio lies far.

Scoring a whole utterance, as in SyncNet: the mean distance between video windows and the
audio windows `offset` frames later, for every offset in +-max_offset; the best offset is
the smallest distance, its confidence the median minus the minimum. The sync score used as
a liveness check is (median - distance at offset 0) / spread of the distances over offsets:
high when the audio fits the mouth as recorded, near zero for audio from another recording,
negative when it fits better shifted. Dividing by the spread makes the score comparable
across corpora (isolated letters vs sentences, studio vs webcam): on the shared data it
moved the in-sync rejection at the validation threshold from 50-100 % to 0-60 %.
A model with `null_from` (the bundled one) compares the distance at offset 0 with the
offsets where the audio cannot be in sync instead: their mean and standard deviation, a
null drawn from the clip itself.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from lipauth.clip import LipClip
from lipauth.features.mfcc import video_aligned_features
from lipauth.errors import InvalidInputError, TooFewFramesError
from lipauth.artifacts import artifact_id, load_artifact, plain, save_artifact

FORMAT = "lipauth-avsync/2"  # /2: a list of networks (an ensemble of seeds); /1: one



@dataclass
class SyncConfig:
    window: int = 9  # video frames per window (0.36 s at 25 fps); the audio window is 2x
    width: int = 30  # mouth crop size the visual stream takes
    height: int = 18
    embedding_dim: int = 128
    channels: tuple[int, int, int] = (32, 64, 128)
    max_offset: int = 15  # frames searched either side, as SyncNet
    # Frames either side of 0 where in-sync audio may sit: cameras and browsers capture sound
    # and picture with a constant skew (Chromium's, measured: 2 frames, 80 ms). 0 scores at
    # offset 0 exactly, as files made before this setting did.
    tolerance: int = 0
    # Offsets at least this many frames from every centre are the clip's own null: its audio
    # where it cannot be in sync. The score is then how many of the null's standard deviations
    # the distance at the centres lies below the null's mean (docs/pad.md: on the leave-people-
    # out folds it passes more real people at the same rate of dubs). 0: the older score,
    # (median - least) / spread over all offsets, whose spread includes the in-sync dip itself.
    null_from: int = 0

    @property
    def audio_window(self) -> int:
        return 2 * self.window


class VisualStream(nn.Module):
    """(B, 1, window, H, W) standardised mouth frames -> (B, D)."""

    def __init__(self, cfg: SyncConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        block = lambda i, o: [nn.Conv3d(i, o, 3, padding=1, bias=False), nn.BatchNorm3d(o), nn.ReLU(inplace=True)]  # noqa: E731
        self.features = nn.Sequential(
            *block(1, c1), nn.MaxPool3d((1, 2, 2)), *block(c1, c2), nn.MaxPool3d((1, 2, 2)), *block(c2, c3), nn.AdaptiveAvgPool3d((cfg.window, 1, 1))
        )
        self.head = nn.Linear(c3 * cfg.window, cfg.embedding_dim)  # keeps the order of frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class AudioStream(nn.Module):
    """(B, 3, 2*window, 13) MFCC / delta / delta-delta maps -> (B, D)."""

    def __init__(self, cfg: SyncConfig) -> None:
        super().__init__()
        c1, c2, c3 = cfg.channels
        block = lambda i, o: [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]  # noqa: E731
        self.features = nn.Sequential(*block(3, c1), *block(c1, c2), nn.MaxPool2d((2, 1)), *block(c2, c3), nn.AdaptiveAvgPool2d((cfg.window, 1)))
        self.head = nn.Linear(c3 * cfg.window, cfg.embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class SyncNet(nn.Module):
    def __init__(self, cfg: SyncConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or SyncConfig()
        self.visual = VisualStream(self.cfg)
        self.audio = AudioStream(self.cfg)

    def embed_video(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.visual(x), dim=1)

    def embed_audio(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.audio(x), dim=1)


# -- from a clip to windows ---------------------------------------------------------------
def mouth_frames(clip: LipClip, cfg: SyncConfig) -> np.ndarray:
    """(T, H, W) float32 grey mouth frames at the model's size, standardised over the clip
    so that lighting and camera gain do not matter, only motion and shape."""
    f = clip.frames if clip.frames.ndim == 3 else cv2.cvtColor(clip.frames.reshape(-1, clip.frames.shape[2], 3), cv2.COLOR_RGB2GRAY).reshape(clip.frames.shape[:3])
    if (f.shape[2], f.shape[1]) != (cfg.width, cfg.height):
        f = np.stack([cv2.resize(x, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA) for x in f])
    f = f.astype(np.float32)
    return (f - f.mean()) / max(float(f.std()), 1.0)


@dataclass
class SyncInputs:
    """A clip made ready for the model: frames (T, H, W) and audio (2T-1, 13, 3)."""

    frames: np.ndarray
    audio: np.ndarray

    @classmethod
    def from_clip(cls, clip: LipClip, cfg: SyncConfig) -> "SyncInputs":
        if clip.n_frames < cfg.window + 1:
            raise TooFewFramesError(f"{clip.meta.clip_id}: {clip.n_frames} frames; synchrony needs at least {cfg.window + 1}")
        return cls(frames=mouth_frames(clip, cfg), audio=video_aligned_features(clip))

    def video_window(self, t: int, cfg: SyncConfig) -> np.ndarray:
        return self.frames[t : t + cfg.window][None]  # (1, V, H, W)

    def audio_window(self, t: int, cfg: SyncConfig) -> np.ndarray:
        """The audio features over video frames t .. t+window-1 (padded at the end)."""
        a = self.audio[2 * t : 2 * t + cfg.audio_window]
        if len(a) < cfg.audio_window:
            a = np.concatenate([a, np.repeat(a[-1:], cfg.audio_window - len(a), axis=0)])
        return a.transpose(2, 0, 1)  # (3, 2V, 13)

    def last_start(self, cfg: SyncConfig) -> int:
        """Windows start at 0 .. last_start (inclusive)."""
        return self.frames.shape[0] - cfg.window


@dataclass
class SyncResult:
    """SyncNet's outputs for one utterance."""

    offsets: list[int]  # video frames; positive: the audio matches best when taken later
    distances: list[float]  # mean window distance at each offset
    window_distances: list[float]  # per window, at offset 0
    best_offset: int
    confidence: float  # median - min distance over offsets
    score: float  # the distance at the centres against the rest of the curve (score_at): higher = in sync
    tolerance: int = 0  # frames either side of each centre the score looked at
    centres: tuple[int, ...] = (0,)  # the offsets the score was read at: 0, or the user's own capture skew

    def to_dict(self) -> dict:
        return asdict(self)


#: the fewest null offsets a score against the clip's own null is read from
MIN_NULL = 4


def score_at(offsets: list[int], distances: list[float], centres=(0,), tolerance: int = 0, null_from: int = 0) -> float:
    """The sync score of an offset curve read at `centres` (each +- tolerance frames). With
    null_from: (mean - least distance there) / std of the distances at offsets null_from or
    more frames from every centre; without: (median - least distance there) / spread of the
    distances over all offsets."""
    d = np.asarray(distances)
    gap = np.abs(np.asarray(offsets)[:, None] - np.asarray(centres)[None, :]).min(axis=1)
    near = gap <= tolerance
    if not near.any():
        raise TooFewFramesError(f"the clip is too short to read its synchrony at offsets {list(centres)}")
    if null_from:
        null = d[gap >= null_from]
        if len(null) < MIN_NULL:
            raise TooFewFramesError(f"the clip is too short to compare its audio at offsets {list(centres)} with {MIN_NULL} offsets {null_from}+ frames away")
        return (float(null.mean()) - float(d[near].min())) / (float(null.std()) + 1e-6)
    return (float(np.median(d)) - float(d[near].min())) / (float(d.std()) + 1e-6)


class SyncModel:
    """Trained SyncNets with their threshold: scores clips, saves and loads itself.

    With several networks (seeds of one recipe) their distances are averaged before the
    utterance is scored. Tried with 3 seeds (docs/pad.md): fewer dubs of the training speaker
    pass, but on unseen speakers it is no better, so the bundled model has one network."""

    def __init__(self, nets: SyncNet | list[SyncNet], threshold: float | None = None, info: dict | None = None, model_id: str = "") -> None:
        self.id = model_id  # the digest of the file it was loaded from
        self.nets = [n.eval() for n in (nets if isinstance(nets, list) else [nets])]
        if not self.nets or any(n.cfg != self.nets[0].cfg for n in self.nets):
            raise InvalidInputError("a SyncModel needs one or more networks with the same configuration")
        self.cfg = self.nets[0].cfg
        self.threshold = threshold
        self.info = info or {}
        # None: eager; False: freeze at the next clip (freeze_for_inference); else per network
        # its (visual, audio) streams as frozen TorchScript
        self._frozen: list | bool | None = None

    def freeze_for_inference(self) -> None:
        """Run both streams as frozen TorchScript from the next clip on (lipauth.models.frozen),
        for long-lived processes that only score (the service); never while training."""
        if self._frozen is None:
            self._frozen = False

    def _streams(self, video: torch.Tensor, audio: torch.Tensor) -> list:
        if self._frozen is None:
            return [(n.visual, n.audio) for n in self.nets]
        if self._frozen is False:
            from lipauth.models.frozen import frozen_network

            self._frozen = [(frozen_network(n.visual, video) or n.visual, frozen_network(n.audio, audio) or n.audio) for n in self.nets]
        return self._frozen

    @torch.no_grad()
    def window_distances(self, x: SyncInputs) -> np.ndarray:
        """(n, n) distances between video window t and the audio window starting at frame s,
        for every window start 0 .. last, averaged over the networks."""
        cfg, starts = self.cfg, range(x.last_start(self.cfg) + 1)
        device = next(self.nets[0].parameters()).device  # where the networks are (a GPU, when training there)
        video = torch.from_numpy(np.stack([x.video_window(t, cfg) for t in starts])).to(device)
        audio = torch.from_numpy(np.stack([x.audio_window(s, cfg) for s in starts])).to(device)
        unit = torch.nn.functional.normalize  # as SyncNet.embed_video / embed_audio
        return (sum(torch.cdist(unit(v(video), dim=1), unit(a(audio), dim=1)) for v, a in self._streams(video, audio)) / len(self.nets)).cpu().numpy()

    def analyse(self, clip: LipClip, centres: tuple[int, ...] = (0,)) -> SyncResult:
        """centres: the offsets where in-sync audio sits for this camera (a user's enrolled
        capture skew, lipauth.pad.av_sync_check); (0,) for a recording made in sync."""
        cfg = self.cfg
        d = self.window_distances(SyncInputs.from_clip(clip, cfg))
        n = len(d)
        offsets, means = [], []
        for o in range(-cfg.max_offset, cfg.max_offset + 1):
            if -n < o < n:  # the diagonal o of d: video window t against audio window t + o
                offsets.append(o)
                means.append(float(np.diagonal(d, o).mean()))
        means_arr = np.asarray(means)
        best = int(np.argmin(means_arr))
        median = float(np.median(means_arr))
        return SyncResult(
            offsets=offsets,
            distances=means,
            window_distances=[float(v) for v in np.diagonal(d)],
            best_offset=offsets[best],
            confidence=median - float(means_arr[best]),
            score=score_at(offsets, means, centres, cfg.tolerance, cfg.null_from),
            tolerance=cfg.tolerance,
            centres=tuple(int(c) for c in centres),
        )

    def score(self, clip: LipClip) -> float:
        return self.analyse(clip).score

    # -- the model file -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        cfg = asdict(self.cfg)
        cfg["channels"] = list(cfg["channels"])
        states = [{k: v.cpu() for k, v in n.state_dict().items()} for n in self.nets]
        return save_artifact(path, {"format": FORMAT, "config": cfg, "state_dicts": states, "threshold": plain(self.threshold), "info": plain(self.info)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SyncModel":
        blob = load_artifact(path, FORMAT, "an AV-synchrony model file", older=("lipauth-avsync/1",))
        cfg = dict(blob["config"])
        cfg["channels"] = tuple(cfg["channels"])
        nets = []
        for state in blob.get("state_dicts") or [blob["state_dict"]]:
            nets.append(SyncNet(SyncConfig(**cfg)))
            nets[-1].load_state_dict(state)
        return cls(nets, blob.get("threshold"), blob.get("info", {}), model_id=artifact_id(path))
