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
from lipauth.models.embedder import LipEmbedder
from lipauth.models.registry import create_model, register_model
from lipauth.scoring.whitening import MemberWhitening


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


def ensemble_of(members: list[LipEmbedder]) -> LipEmbedder:
    """One LipEmbedder whose cosine is the mean of the members' (same preprocessing)."""
    first = members[0]
    for m in members[1:]:
        if (m.crop, m.length, m.normalize, m.backend) != (first.crop, first.length, first.normalize, first.backend):
            raise InvalidInputError("ensemble members must share their preprocessing (crop, length, normalisation, landmark backend)")
    specs = [{"name": m.model_name, "config": m.model_config} for m in members]
    net = Ensemble(specs)
    for slot, m in zip(net.members, members):
        slot.load_state_dict(m.model.state_dict())
    dims = [int(m.backend_scoring.mean.shape[0]) if m.backend_scoring is not None else _embedding_dim(m) for m in members]  # each member's slice
    return LipEmbedder(
        model=net.eval(), model_name="ensemble", model_config={"members": specs}, crop=first.crop, backend=first.backend, length=first.length,
        normalize=first.normalize, backend_scoring=MemberWhitening(parts=[m.backend_scoring for m in members], dims=dims),
    )


def _embedding_dim(m: LipEmbedder) -> int:
    if not m.model_config.get("embedding_dim"):
        raise InvalidInputError(f"an ensemble member without a scoring backend must name its embedding_dim ({m.model_name})")
    return int(m.model_config["embedding_dim"])
