"""`lipauth train --config RECIPE.yaml`: one way to train every component. A recipe's `kind`
says what it makes; each kind's runner reads the rest of the file.

    kind: lip_embedding   (default)  WhisperNet and the other lip models (lipauth.training)
    kind: av_sync                    the AV-synchrony model (lipauth.recipes.pad)
    kind: face_liveness              the face-liveness model (lipauth.recipes.pad)
    kind: fusion                     fusion rules of a lip model with voice and face (lipauth.recipes.fusion)

Adding a kind is a runner `run(raw, data, out, where) -> {"model": path, "report": ...}`
registered under its name with `@RECIPES.register("kind")` in a module listed below (or
imported before the recipe runs), as models, corpora and checks register."""

from __future__ import annotations

from pathlib import Path

from lipauth.errors import InvalidInputError
from lipauth.registry import Registry
from lipauth.training.config import read_yaml

LIP = "lip_embedding"  # trained by lipauth.training itself (the CLI's train command)
RECIPES = Registry("recipe kind", ("lipauth.recipes.pad", "lipauth.recipes.fusion"))


def kinds() -> tuple[str, ...]:
    return (LIP, *RECIPES.names())


def read_recipe(path: str | Path) -> dict:
    raw = read_yaml(path)
    kind = raw.get("kind", LIP)
    if kind not in kinds():
        raise InvalidInputError(f"{path}: unknown kind {kind!r}; choose one of {', '.join(kinds())}")
    return raw


def recipe_kind(raw: dict) -> str:
    return raw.get("kind", LIP)


def run_recipe(raw: dict, data: str | Path, out: str | Path, where: str = "recipe") -> dict:
    """Train what a non-lip recipe makes from the recordings under `data` into `out`."""
    return RECIPES.get(recipe_kind(raw))(raw, Path(data), Path(out), where)
