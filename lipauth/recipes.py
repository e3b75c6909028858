"""`lipauth train --config RECIPE.yaml`: one way to train every component. A recipe's `kind`
says what it makes; each kind's runner reads the rest of the file.

    kind: lip_embedding   (default)  WhisperNet and the other lip models (lipauth.training)
    kind: av_sync                    the AV-synchrony model (lipauth.pad.recipes)
    kind: face_liveness              the face-liveness model (lipauth.pad.recipes)
    kind: fusion                     fusion rules of a lip model with voice and face (lipauth.fusion_recipe)

Adding a kind is a runner `run(raw, data, out, where) -> {"model": path, "report": ...}`
and its line here."""

from __future__ import annotations

import importlib
from pathlib import Path

from lipauth.errors import InvalidInputError
from lipauth.training.config import read_yaml

LIP = "lip_embedding"
RUNNERS = {"av_sync": "lipauth.pad.recipes:run_av_sync", "face_liveness": "lipauth.pad.recipes:run_face_liveness", "fusion": "lipauth.fusion_recipe:run_fusion"}
KINDS = (LIP, *RUNNERS)


def read_recipe(path: str | Path) -> dict:
    raw = read_yaml(path)
    kind = raw.get("kind", LIP)
    if kind not in KINDS:
        raise InvalidInputError(f"{path}: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return raw


def recipe_kind(raw: dict) -> str:
    return raw.get("kind", LIP)


def run_recipe(raw: dict, data: str | Path, out: str | Path, where: str = "recipe") -> dict:
    """Train what a non-lip recipe makes from the recordings under `data` into `out`."""
    module, fn = RUNNERS[recipe_kind(raw)].split(":")
    return getattr(importlib.import_module(module), fn)(raw, Path(data), Path(out), where)
