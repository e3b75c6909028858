"""A documented simulator of presentation attacks, made from real frames.

No attack recordings are at hand, so fakes are made the way the artefacts arise when a face
is recaptured by a camera (Määttä et al. 2011; Boulkenafet et al. 2016 list the same cues):

print (a photo held up to the camera)
  - recapture blur: the print is out of the camera's focal plane (Gaussian, sigma 0.8-2 px)
  - colour-gamut loss: printer inks cover less gamut (saturation x 0.45-0.75)
  - contrast loss: paper reflects, ink never reaches black (levels squeezed to 60-80 %)
  - halftone grain: printer dots (fine noise, 3-6 grey levels)
  - glare: a specular highlight where the paper catches the light (sometimes)

replay (a video played on a phone or laptop screen)
  - moire: aliasing between the screen's pixel grid and the sensor (a sinusoidal pattern,
    period 2.5-6 px, 3-9 % amplitude, random angle)
  - gamut and gamma: the screen's colours are re-rendered (saturation x 0.7-0.9, gamma
    0.8-1.25, a blue cast)
  - recapture blur (sigma 0.5-1.2 px)
  - a screen border: the displayed frame shrunk to 75-92 % inside a dark bezel
  - glare on the glass (often)

Every attack takes an (H, W, 3) uint8 RGB frame and a numpy Generator and returns a frame
of the same shape; a clip is attacked with one set of parameters for all its frames.

Attacks on the sound, for AV synchrony: `shift_audio` (the audio late, as in a badly
dubbed or re-muxed video) and `swap_audio` (another recording's audio on this mouth).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from lipauth.clip import AUDIO_RATE, LipClip
from lipauth.errors import InvalidInputError

ATTACK_TYPES = ("print", "replay")


@dataclass(frozen=True)
class AttackParams:
    kind: str
    blur: float
    saturation: float
    contrast: float
    gamma: float
    moire_period: float
    moire_amplitude: float
    moire_angle: float
    grain: float
    border: float  # fraction of the frame the screen shows; 1 = no border
    glare: tuple[float, float, float, float] | None  # x, y (fractions), radius (fraction), strength
    tint: tuple[float, float, float]


def sample_params(kind: str, rng: np.random.Generator) -> AttackParams:
    if kind not in ATTACK_TYPES:
        raise InvalidInputError(f"attack type must be one of {', '.join(ATTACK_TYPES)}, got {kind!r}")
    glare = None
    if kind == "print":
        if rng.random() < 0.5:
            glare = (rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3), rng.uniform(0.2, 0.5))
        return AttackParams(
            kind, blur=rng.uniform(0.8, 2.0), saturation=rng.uniform(0.45, 0.75), contrast=rng.uniform(0.6, 0.8), gamma=rng.uniform(0.9, 1.1),
            moire_period=0, moire_amplitude=0, moire_angle=0, grain=rng.uniform(3, 6), border=1.0, glare=glare,
            tint=(rng.uniform(1.0, 1.06), 1.0, rng.uniform(0.9, 0.98)),  # warm paper
        )
    if rng.random() < 0.7:
        glare = (rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4))
    return AttackParams(
        kind, blur=rng.uniform(0.5, 1.2), saturation=rng.uniform(0.7, 0.9), contrast=rng.uniform(0.8, 0.95), gamma=rng.uniform(0.8, 1.25),
        moire_period=rng.uniform(2.5, 6.0), moire_amplitude=rng.uniform(0.03, 0.09), moire_angle=rng.uniform(0, np.pi), grain=0.0,
        border=rng.uniform(0.75, 0.92), glare=glare, tint=(rng.uniform(0.92, 0.98), 1.0, rng.uniform(1.02, 1.1)),  # cool screen
    )


def apply_attack(frame: np.ndarray, p: AttackParams, rng: np.random.Generator) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InvalidInputError(f"attacks take (H, W, 3) uint8 RGB frames, got {frame.shape} {frame.dtype}")
    h, w = frame.shape[:2]
    x = frame.astype(np.float32) / 255.0
    if p.blur > 0:
        x = cv2.GaussianBlur(x, (0, 0), p.blur)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + p.saturation * (x - grey)  # gamut loss
    x = 0.5 + p.contrast * (x - 0.5)  # contrast loss: no true black, no true white
    x = np.clip(x, 0, 1) ** p.gamma * np.asarray(p.tint, np.float32)
    if p.moire_amplitude > 0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        phase = 2 * np.pi * (xx * np.cos(p.moire_angle) + yy * np.sin(p.moire_angle)) / p.moire_period
        x = x * (1 + p.moire_amplitude * np.sin(phase))[..., None]
    if p.grain > 0:
        x = x + rng.normal(0, p.grain / 255.0, size=(h, w, 1)).astype(np.float32)
    if p.glare is not None:
        gx, gy, r, s = p.glare
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d2 = ((xx - gx * w) ** 2 + (yy - gy * h) ** 2) / (r * max(h, w)) ** 2
        x = x + s * np.exp(-d2)[..., None]
    out = np.clip(x * 255.0, 0, 255).astype(np.uint8)
    if p.border < 1.0:  # the screen inside a bezel, in a camera view a little wider than it
        sw, sh = int(w * p.border), int(h * p.border)
        bezel = np.full_like(out, 18)
        x0, y0 = (w - sw) // 2, (h - sh) // 2
        bezel[y0 : y0 + sh, x0 : x0 + sw] = cv2.resize(out, (sw, sh), interpolation=cv2.INTER_AREA)
        out = bezel
    return out


def attack_frames(frames: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, AttackParams]:
    """A whole clip (T, H, W, 3) attacked with one draw of the parameters."""
    p = sample_params(kind, rng)
    return np.stack([apply_attack(f, p, rng) for f in frames]), p


def map_points(points: np.ndarray, p: AttackParams, shape: tuple[int, int]) -> np.ndarray:
    """Where image points (..., 2) land in the attacked frame (the screen border shrinks it)."""
    h, w = shape
    if p.border >= 1.0:
        return points
    sw, sh = int(w * p.border), int(h * p.border)
    out = np.array(points, np.float32, copy=True)
    out[..., 0] = (w - sw) // 2 + out[..., 0] * sw / w
    out[..., 1] = (h - sh) // 2 + out[..., 1] * sh / h
    return out


def shift_audio(clip: LipClip, seconds: float) -> LipClip:
    """The clip with its audio delayed by `seconds` (silence, or the first feature frame,
    fills the start), as a badly dubbed or replayed video would have it."""
    if clip.audio is not None and len(clip.audio):
        n = int(round(seconds * AUDIO_RATE))
        audio = np.concatenate([np.zeros(n, clip.audio.dtype), clip.audio])[: len(clip.audio)]
        return replace(clip, audio=audio).with_meta(clip_id=f"{clip.meta.clip_id}+shift{seconds:g}s")
    feats, rate = clip.audio_features, clip.audio_features_rate
    n = int(round(seconds * rate))
    feats = np.concatenate([np.repeat(feats[:1], n, axis=0), feats])[: len(feats)]
    return replace(clip, audio_features=feats).with_meta(clip_id=f"{clip.meta.clip_id}+shift{seconds:g}s")


def swap_audio(clip: LipClip, other: LipClip) -> LipClip:
    """The clip's mouth with another clip's audio (a dubbed video)."""
    return replace(clip, audio=other.audio, audio_features=other.audio_features, audio_features_rate=other.audio_features_rate).with_meta(
        clip_id=f"{clip.meta.clip_id}+audio_of_{other.meta.clip_id}"
    )


# -- videos that do not live (the motion check, lipauth.pad.motion_check) -------------------------
LIFELESS = ("still", "photo_moved", "frozen_half", "looped")


def lifeless_frames(frames: np.ndarray, kind: str) -> np.ndarray:
    """(T, H, W, 3) RGB frames of a live clip made into one that does not live, as long:
    still: its middle frame held (a photo held still, or a frozen stream);
    photo_moved: its middle frame turned, zoomed and moved smoothly (a print waved in front
      of the camera; up to 2.3 degrees, 5 % zoom, 3 % of the width);
    frozen_half: live for the first half, then its last live frame held;
    looped: its first 12 frames played forward and back over and over."""
    frames = np.asarray(frames)
    t, h, w = frames.shape[:3]
    mid = frames[t // 2]
    if kind == "still":
        return np.repeat(mid[None], t, axis=0)
    if kind == "photo_moved":
        out = []
        for i in range(t):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), np.degrees(0.04 * np.sin(2 * np.pi * i / 37)), 1 + 0.05 * np.sin(2 * np.pi * i / 53))
            m[0, 2] += 0.03 * w * np.sin(2 * np.pi * i / 29)
            m[1, 2] += 0.02 * h * np.cos(2 * np.pi * i / 31)
            out.append(cv2.warpAffine(mid, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
        return np.stack(out)
    if kind == "frozen_half":
        return np.concatenate([frames[: t // 2], np.repeat(frames[t // 2][None], t - t // 2, axis=0)])
    if kind == "looped":
        seg = frames[:12]
        return np.concatenate([seg, seg[::-1]] * (t // 24 + 1))[:t]
    raise InvalidInputError(f"a lifeless video is one of {', '.join(LIFELESS)}, got {kind!r}")
