"""Fill short runs of frames where no landmarks were found; refuse clips with too many."""

from __future__ import annotations

import numpy as np

from lipauth.errors import LandmarkGapError, NoFaceError


def missing_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True in a 1-D bool array."""
    padded = np.concatenate([[False], missing.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def interpolate_gaps(points: np.ndarray, *, max_gap: int, max_missing_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate landmarks over frames marked NaN.

    points: (T, K, 2) with NaN rows for frames without a face.
    Gaps at the start or end take the nearest found frame. Returns (filled, missing mask).
    Raises NoFaceError if no frame has a face, LandmarkGapError if more than
    `max_missing_fraction` of the frames, or a run longer than `max_gap`, are missing.
    """
    t = points.shape[0]
    missing = np.isnan(points).any(axis=(1, 2))
    n_missing = int(missing.sum())
    if n_missing == t:
        raise NoFaceError(f"no face found in any of the {t} frames")
    if n_missing == 0:
        return points.copy(), missing
    if n_missing / t > max_missing_fraction:
        raise LandmarkGapError(
            f"no face on {n_missing} of {t} frames ({n_missing / t:.0%}; at most {max_missing_fraction:.0%} allowed)"
        )
    longest = max(stop - start for start, stop in missing_runs(missing))
    if longest > max_gap:
        raise LandmarkGapError(f"no face on {longest} consecutive frames (at most {max_gap} allowed)")
    found = np.flatnonzero(~missing)
    flat = points.reshape(t, -1)
    filled = np.empty_like(flat)
    for j in range(flat.shape[1]):
        # np.interp holds the end values constant beyond the first/last found frame.
        filled[:, j] = np.interp(np.arange(t), found, flat[found, j])
    return filled.reshape(points.shape), missing
