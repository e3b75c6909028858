"""The epoch loop and its hooks. The loop trains one epoch at a time; after each, rank 0
validates, notes the best epoch and runs the hooks in order on the epoch's record (keeping
the best weights, early stopping, the metrics log, the resumable checkpoint, the progress
bar); the stop decision is broadcast so that every DDP rank leaves together."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist

from lipauth.artifacts import atomic_save


@dataclass
class LoopState:
    """What survives a resume: the best epoch so far and every epoch's record."""

    best: dict[str, Any] = field(default_factory=lambda: {"val_eer": float("inf"), "epoch": -1})
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False

    @property
    def epochs_since_best(self) -> int:
        return sum(1 for h in self.history if h["epoch"] > self.best["epoch"])


class Hook(Protocol):
    def after_epoch(self, record: dict[str, Any], state: LoopState) -> None: ...


class KeepBest:
    """The best epoch's weights, written atomically whenever validation improves."""

    def __init__(self, model: torch.nn.Module, path: Path) -> None:
        self.model, self.path = model, path

    def after_epoch(self, record, state) -> None:
        if state.best["epoch"] == record["epoch"]:
            atomic_save(self.model.state_dict(), self.path)


class EarlyStopping:
    def __init__(self, patience: int, enabled: bool) -> None:
        self.patience, self.enabled = patience, enabled

    def after_epoch(self, record, state) -> None:
        if self.enabled and state.epochs_since_best >= self.patience:
            state.stop = True


class MetricsLog:
    """One JSON line per epoch in metrics.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def after_epoch(self, record, state) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


class Checkpoint:
    """Everything `--resume` needs, written atomically after each epoch."""

    def __init__(self, fit, path: Path) -> None:
        self.fit, self.path = fit, path

    def after_epoch(self, record, state) -> None:
        atomic_save({**self.fit.state_dict(), "epoch": record["epoch"], "best": state.best, "history": state.history, "torch_rng": torch.get_rng_state()}, self.path)

    def restore(self) -> tuple[int, LoopState]:
        """(first epoch to run, state) from the checkpoint."""
        ck = torch.load(self.path, map_location="cpu", weights_only=False)
        self.fit.load_state_dict(ck)
        torch.set_rng_state(ck["torch_rng"])
        return ck["epoch"] + 1, LoopState(best=ck["best"], history=ck["history"])


class ProgressLine:
    def __init__(self, bar, task) -> None:
        self.bar, self.task = bar, task

    def after_epoch(self, record, state) -> None:
        best = state.best
        self.bar.update(self.task, advance=1, info=f"loss {record['loss']:.3f} val EER {100 * record['val_eer']:.1f}% (best {100 * best['val_eer']:.1f}% @ {best['epoch']})")


def run_epochs(fit, epochs: range, rng: np.random.Generator, hooks: list, state: LoopState, *, validate: Callable[[], float] | None, rank: int, world: int) -> LoopState:
    """Train `fit` (see trainer._Epochs) for `epochs`. On rank 0, after each epoch: the
    validation EER (`validate`; without it every epoch counts as the best, so the last is
    kept), the best epoch so far, then the hooks in order."""
    for epoch in epochs:
        t0 = time.perf_counter()
        record = fit.epoch(epoch, rng)
        if rank == 0:
            record["val_eer"] = validate() if validate else float("nan")
            record["seconds"] = round(time.perf_counter() - t0, 2)
            state.history.append(record)
            if not validate or record["val_eer"] < state.best["val_eer"]:
                state.best = {"val_eer": record["val_eer"], "epoch": epoch}
            for hook in hooks:
                hook.after_epoch(record, state)
        if broadcast(1.0 if state.stop else 0.0, world):
            break
    return state


def broadcast(value: float, world: int) -> float:
    """Rank 0's value on every rank (decisions only rank 0 can make: stop, best epoch)."""
    if world == 1:
        return value
    t = torch.tensor([float(value)])
    dist.broadcast(t, 0)
    return float(t.item())
