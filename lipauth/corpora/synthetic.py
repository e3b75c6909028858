"""A procedurally generated corpus of mouth videos, for the demo and for tests that need
many speakers quickly. Nothing here is a real recording.

Each identity has its own lip shape (width, thickness, cupid's bow), colour (lip and skin
grey levels) and motion style (how wide it opens, asymmetry, tremor). A phrase is a
sequence of visemes, each a target (opening, width) the mouth moves to and from; an
emotion scales the amplitude and tempo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lipauth.video.encode import write_video

# viseme -> (opening 0..1, width factor)
VISEMES = {"A": (0.85, 1.0), "B": (0.0, 1.0), "E": (0.45, 1.15), "O": (0.7, 0.7), "U": (0.35, 0.6), "F": (0.15, 1.05), "M": (0.0, 0.95), "I": (0.3, 1.2)}
PHRASES = ("BAM", "FOE", "MIAU", "EBU")
EMOTIONS = {"NEU": (1.0, 1.0), "HAP": (1.2, 1.15), "SAD": (0.75, 0.85)}  # amplitude, tempo


@dataclass(frozen=True)
class Identity:
    width: float  # lip width, fraction of the frame width
    thickness: float  # lip thickness, fraction of the frame height
    bow: float  # depth of the cupid's bow, fraction of thickness
    lip_grey: int
    skin_grey: int
    gain: float  # how far the mouth opens
    asymmetry: float  # -1..1: which corner lifts
    tremor: float  # px of frame-to-frame shake

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Identity":
        return cls(
            width=rng.uniform(0.45, 0.7),
            thickness=rng.uniform(0.08, 0.16),
            bow=rng.uniform(0.0, 0.6),
            lip_grey=int(rng.integers(60, 120)),
            skin_grey=int(rng.integers(130, 200)),
            gain=rng.uniform(0.6, 1.4),
            asymmetry=rng.uniform(-1, 1),
            tremor=rng.uniform(0.0, 0.8),
        )


def render(identity: Identity, phrase: str, emotion: str, rng: np.random.Generator, *, size=(80, 48), fps: float = 25.0) -> np.ndarray:
    """(T, H, W) uint8 grey frames of `identity` saying `phrase` with `emotion`."""
    amp, tempo = EMOTIONS[emotion]
    w, h = size
    frames_per_viseme = max(3, int(round(6 / tempo)))
    targets = [(0.0, 1.0)] + [VISEMES[v] for v in phrase] + [(0.0, 1.0)]
    # smooth trajectories between viseme targets
    keys = np.array(targets, float)
    t_key = np.arange(len(keys)) * frames_per_viseme
    t = np.arange(t_key[-1] + 1)
    opening = np.interp(t, t_key, keys[:, 0]) * amp * identity.gain
    widen = 1 + (np.interp(t, t_key, keys[:, 1]) - 1) * amp
    frames = []
    for o, wf in zip(opening, widen):
        img = np.full((h, w), identity.skin_grey, np.float32)
        cx = w / 2 + rng.normal(0, identity.tremor)
        cy = h / 2 + rng.normal(0, identity.tremor)
        half_w = identity.width * w / 2 * wf
        thick = identity.thickness * h
        gap = min(o, 1.2) * 0.22 * h
        xs = np.linspace(-1, 1, 21)
        lift = identity.asymmetry * 0.12 * h * xs
        bow = identity.bow * thick * np.exp(-(xs * 4) ** 2)
        upper_out = np.stack([cx + xs * half_w, cy - gap / 2 - thick * (1 - xs**2) + bow - lift], 1)
        lower_out = np.stack([cx + xs * half_w, cy + gap / 2 + thick * 1.2 * (1 - xs**2) - lift], 1)
        outline = np.concatenate([upper_out, lower_out[::-1]]).astype(np.int32)
        cv2.fillPoly(img, [outline], float(identity.lip_grey))
        if gap > 0.5:
            inner = np.stack([cx + xs * half_w * 0.8, cy - lift * 0.8 + gap / 2 * np.sqrt(np.clip(1 - xs**2, 0, 1))], 1)
            inner_top = np.stack([cx + xs * half_w * 0.8, cy - lift * 0.8 - gap / 2 * np.sqrt(np.clip(1 - xs**2, 0, 1))], 1)
            cv2.fillPoly(img, [np.concatenate([inner_top, inner[::-1]]).astype(np.int32)], 25.0)
        img = cv2.GaussianBlur(img, (3, 3), 0.8) + rng.normal(0, 3, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write_corpus(root: str | Path, *, n_speakers: int = 8, repetitions: int = 2, seed: int = 0, fps: float = 25.0) -> list[Path]:
    """root/spkNN/PHRASE/EMOTION_REP.mp4 for every speaker, phrase, emotion and repetition."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    identities = [Identity.random(rng) for _ in range(n_speakers)]
    written = []
    for s, ident in enumerate(identities):
        for phrase in PHRASES:
            for emotion in EMOTIONS:
                for rep in range(repetitions):
                    frames = render(ident, phrase, emotion, rng, fps=fps)
                    path = root / f"spk{s:02d}" / phrase / f"{emotion}_{rep}.mp4"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    written.append(write_video(path, np.repeat(frames[..., None], 3, axis=-1), fps))
    return written
