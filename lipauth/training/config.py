"""Lip-model recipes: YAML over these defaults, read into a typed config. A misspelt or
unknown setting is an error naming it; `model` takes the settings its model takes (checked by
the model when it is made), and `data.crop` those of CropSpec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lipauth.errors import InvalidInputError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(BaseModel):
    """The model's registry name and its settings (any: the model checks them)."""

    model_config = ConfigDict(extra="allow")
    name: str = "whispernet_v2"

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DataSpec(_Strict):
    crop: dict[str, Any] = Field(default_factory=lambda: {"width": 30, "height": 18, "color": "grey"})  # CropSpec
    backend: str = "dlib"  # landmark backend
    length: int = 24  # frames per training clip (random temporal crop, or padded)
    normalize: str = "dataset"  # pixel normalisation, see lipauth.features.batching


class SplitSpec(_Strict):
    train_speakers: int | None = None
    val_speakers: int = 2
    test_speakers: int = 0
    seed: int = 0
    train: list[str] | None = None  # named speakers, instead of drawn ones
    val: list[str] | None = None
    test: list[str] | None = None


class TrainSpec(_Strict):
    epochs: int = 30
    labels: Literal["speaker", "speaker_phrase", "clip"] = "speaker"  # speaker_phrase: text-dependent identities
    sampling: Literal["pk", "triplets"] = "pk"  # pk (online mining) or triplets (offline challenging triplets)
    P: int = 8
    K: int = 6
    batches_per_epoch: int | None = None  # default: clips // (P*K)
    miner: str = "batch_hard"
    loss: dict[str, Any] = Field(default_factory=lambda: {"type": "triplet", "margin": 0.2, "distance": "cosine"})  # replaced whole
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10
    # after validation has chosen the epoch, train again on training + validation speakers
    # for that many epochs; the final model keeps the validated thresholds
    refit: bool = False
    # train this many networks alike from seeds seed, seed+1, ...; the model is their
    # ensemble (cosine = the mean of the members' cosines)
    ensemble: int = Field(1, ge=1)
    text_dependent_triplets: bool = False
    # how the Verifier scores by default: raw cosine, or "normalised" (minus the template's
    # self-similarity: thresholds that carry over to other cameras/corpora)
    verify_scoring: Literal["raw", "normalised"] = "raw"


class TrainConfig(_Strict):
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    split: SplitSpec = Field(default_factory=SplitSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    # scoring backend fitted on the training speakers' embeddings after training (or null); replaced whole
    backend: dict[str, Any] | None = Field(default_factory=lambda: {"type": "whitening", "n_components": 64})
    augment: dict[str, Any] | None = Field(default_factory=lambda: {"speed": [0.85, 1.15], "brightness": 0.1, "contrast": 0.15, "shift": 2})
    seed: int = 0

    def with_seed(self, seed: int) -> "TrainConfig":
        """The same recipe from another seed, one network (an ensemble's member)."""
        return self.model_copy(update={"seed": seed, "train": self.train.model_copy(update={"ensemble": 1})}, deep=True)

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump()
        d["model"] = {"name": self.model.name, **self.model.settings}
        return d


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A recipe file's settings, or an InvalidInputError saying why there are none."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{path}: a recipe is a mapping of settings")
    return raw


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A recipe file (None: the defaults) with `overrides` merged over it."""
    raw: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        raw, where = read_yaml(path), str(path)
        raw.pop("kind", None)  # lipauth.recipes dispatched on it: this is a lip_embedding recipe
    raw = _merged(raw, overrides or {})
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(map(str, first["loc"]))
        if first["type"] == "extra_forbidden":
            raise InvalidInputError(f"{where}: unknown setting {name}") from None
        raise InvalidInputError(f"{where}: {name}: {first['msg']}") from None


# Blocks whose keys depend on their `type`: an override replaces them whole.
REPLACED = {"train.loss", "backend", "augment", "data.crop"}


def _merged(base: dict, new: dict, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in new.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict) and f"{prefix}{key}" not in REPLACED:
            out[key] = _merged(out[key], value, f"{prefix}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out
