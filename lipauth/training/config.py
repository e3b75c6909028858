"""Experiment configs: YAML files merged over these defaults. Unknown keys are errors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from lipauth.errors import InvalidInputError

DEFAULTS: dict[str, Any] = {
    "model": {"name": "whispernet_v2"},
    "data": {"crop": {"width": 30, "height": 18, "color": "grey"}, "backend": "dlib", "length": 24, "normalize": "dataset"},
    "split": {"train_speakers": None, "val_speakers": 2, "test_speakers": 0, "seed": 0, "train": None, "val": None, "test": None},
    "train": {
        "epochs": 30,
        "labels": "speaker",  # or speaker_phrase: text-dependent identities
        "sampling": "pk",  # pk (online mining) or triplets (offline challenging triplets)
        "P": 8,
        "K": 6,
        "batches_per_epoch": None,  # default: clips // (P*K)
        "miner": "batch_hard",
        "loss": {"type": "triplet", "margin": 0.2, "distance": "cosine"},
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "patience": 10,
        # after validation has chosen the epoch, train again on training + validation
        # speakers for that many epochs; the final model keeps the validated thresholds
        "refit": False,
        # train this many networks alike from seeds seed, seed+1, ...; the model is their
        # ensemble (cosine = the mean of the members' cosines)
        "ensemble": 1,
        "text_dependent_triplets": False,
        # how the Verifier scores by default: raw cosine, or "normalised" (minus the
        # template's self-similarity: thresholds that carry over to other cameras/corpora)
        "verify_scoring": "raw",
    },
    # scoring backend fitted on the training speakers' embeddings after training (or null)
    "backend": {"type": "whitening", "n_components": 64},
    "augment": {"speed": [0.85, 1.15], "brightness": 0.1, "contrast": 0.15, "shift": 2},
    "seed": 0,
}


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such config file")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{path}: not valid YAML ({exc})") from None
        loaded.pop("kind", None)  # lipauth.recipes dispatched on it: this is a lip_embedding recipe
        _merge(cfg, loaded, where=str(path))
    if overrides:
        _merge(cfg, overrides, where="overrides")
    return cfg


# Blocks whose keys depend on their `type`: a config's block replaces the default wholesale.
REPLACED = {"train.loss", "backend"}


def _merge(base: dict, new: dict, where: str, prefix: str = "") -> None:
    for key, value in new.items():
        if f"{prefix}{key}" in REPLACED:
            base[key] = value
            continue
        if key not in base:
            if prefix in ("model.", "augment.", "data.crop."):
                base[key] = value  # checked by the model / CropSpec / augmenter that takes them
                continue
            raise InvalidInputError(f"{where}: unknown setting {prefix}{key}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, where, prefix=f"{prefix}{key}.")
        else:
            base[key] = value
