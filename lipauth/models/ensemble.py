"""An ensemble of embedding networks trained alike from different seeds.

Its embedding is the members' embeddings side by side. With the scoring backend
(`backend.MemberWhitening`: each member whitened and length-normalised on its own, then
divided by sqrt(M)) the cosine of two ensemble embeddings is the mean of the members'
cosines: score averaging, behind the same embed-and-cosine interface templates and the
verifier use. Why: with 5-7 training speakers, networks from different seeds err on
different trials (docs/results.md measures three seeds).
"""

from __future__ import annotations

import torch
from torch import nn

from lipauth.errors import InvalidInputError
from lipauth.models.registry import create_model, register_model


class Ensemble(nn.Module):
    def __init__(self, members: list[dict]) -> None:
        super().__init__()
        if not members:
            raise InvalidInputError("an ensemble needs at least one member")
        self.members = nn.ModuleList(create_model(m["name"], **m["config"]) for m in members)
        self.uses_landmarks = any(getattr(m, "uses_landmarks", False) for m in self.members)
        self.uses_audio = any(getattr(m, "uses_audio", False) for m in self.members)

    def forward(self, batch: dict) -> torch.Tensor:
        return torch.cat([m(batch) for m in self.members], dim=1)


@register_model("ensemble")
def ensemble(members: list[dict]) -> Ensemble:
    return Ensemble(members)
