"""Bona fide and simulated-attack face crops from real talking-face videos, for training
and evaluating face liveness where no attack recordings exist."""

from __future__ import annotations

import os

import numpy as np

from lipauth.training.attacks import ATTACK_TYPES, attack_frames, map_points
from lipauth.pad.face_sample import FaceSample
from lipauth.video.face import face_crops, spread_frames
from lipauth.video.pipeline import LipPipeline


def face_samples_from_video(
    path: str | os.PathLike, client: str, pipeline: LipPipeline, rng: np.random.Generator, *, n_crops: int = 8, attacks: tuple[str, ...] = ATTACK_TYPES
) -> list[FaceSample]:
    """One bona fide sample and one sample per attack type, each of `n_crops` face crops.
    Attacks are applied to whole frames (the border and glare are part of the scene), then
    cropped where the face lands in the attacked frame."""
    _, trace = pipeline.process_traced(path)
    idx = spread_frames(trace.video.n_frames, n_crops)
    frames, points = trace.video.rgb(idx), trace.points[idx]
    out = [FaceSample(face_crops(frames, points, n=len(idx)), client, True, None, str(path))]
    for kind in attacks:
        fake, params = attack_frames(frames, kind, rng)
        out.append(FaceSample(face_crops(fake, map_points(points, params, frames.shape[1:3]), n=len(idx)), client, False, kind, str(path)))
    return out
