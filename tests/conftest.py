"""Shared fixtures: the real recordings in ../shared/data, and videos the tests make."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from lipauth.data.shared import default_data_root

DATA = default_data_root()


def need(relative: str) -> Path:
    """The path under the shared data root, or skip the test saying what is missing."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data not found: {path} (set LIPAUTH_DATA or put shared/data beside the checkout)")
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return need("")


@pytest.fixture(scope="session")
def grid_video() -> Path:
    return need("grid-sample/lwbsza.mpg")


@pytest.fixture(scope="session")
def crema_video() -> Path:
    return need("crema-d-sample/1001_DFA_HAP_XX.flv")


@functools.lru_cache(maxsize=None)
def _decoded(path: str):
    from lipauth.video.decode import decode_video

    return decode_video(path)


@pytest.fixture(scope="session")
def grid_decoded(grid_video):
    return _decoded(str(grid_video))


@pytest.fixture(scope="session")
def dlib_backend():
    from lipauth.video.landmarks import create_backend

    return create_backend("dlib")


@pytest.fixture(scope="session")
def mediapipe_backend():
    from lipauth.video.landmarks import create_backend

    return create_backend("mediapipe")


def blank_out(frames: np.ndarray, start: int, stop: int) -> np.ndarray:
    """A copy of `frames` with frames [start, stop) replaced by a flat grey: no face there."""
    out = frames.copy()
    out[start:stop] = 128
    return out


@pytest.fixture(scope="session")
def quick_model_file(tmp_path_factory):
    """A WhisperNet v2 trained for 3 epochs on 5 AVLetters speakers (John, Nicola validate):
    enough for the product's plumbing; accuracy is measured elsewhere."""
    from lipauth.data.dataset import load_dataset
    from lipauth.training.config import load_config
    from lipauth.training.trainer import train
    from lipauth.video.roi import CropSpec

    out = tmp_path_factory.mktemp("quick_model")
    cfg = load_config(None, {"train": {"epochs": 3, "miner": "none"}, "split": {"val": ["John", "Nicola"]}})
    train(cfg, load_dataset(need("avletters"), "avletters", CropSpec()), out, progress=False)
    return out / "model.pt"
