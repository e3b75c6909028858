"""Ensembles of seeds, one mechanism for every model kind: `train.ensemble: M` in any recipe
trains M members alike from seeds seed, seed+1, ...; the kind then makes one model of them
whose score is the mean of the members' (cosines for the lip and face-liveness models,
window distances for AV synchrony). Why: with few training people, networks from different
seeds err on different trials (docs/results.md)."""

from __future__ import annotations

from typing import Callable, TypeVar

from lipauth.errors import InvalidInputError

T = TypeVar("T")


def member_seeds(seed: int, members: int) -> list[int]:
    if members < 1:
        raise InvalidInputError(f"an ensemble needs at least one member, got {members}")
    return [seed + i for i in range(members)]


def train_members(seed: int, members: int, train_one: Callable[[int, int], T]) -> list[T]:
    """`train_one(index, seed)` for each member, in order."""
    return [train_one(i, s) for i, s in enumerate(member_seeds(seed, members))]
