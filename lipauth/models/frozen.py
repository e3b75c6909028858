"""A trained network as frozen TorchScript, for processes that embed many clips with one
model (the service): batch norm is folded into the convolutions and the weights are packed
once for oneDNN (torch.jit.freeze + optimize_for_inference), which halves the bundled
ensemble's time per clip on 2 cores (41 -> 22 ms, benchmarks/verify_latency.py).

Tracing records the operations of one example batch; the result is used only if it gives
the network's own embeddings on that batch, and never for a model that is still training
(the frozen copy does not follow later changes to the weights).

torch 2.13 marks TorchScript deprecated in favour of torch.compile, which here would cost
tens of seconds of compilation per process and a C++ compiler; the pinned torch has it, and
a torch without it leaves the network eager (the failure below), slower but the same.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import torch

log = logging.getLogger(__name__)
TOLERANCE = 1e-4  # largest difference from the eager network's output that is accepted


def frozen_network(model: torch.nn.Module, example: dict[str, torch.Tensor] | torch.Tensor) -> Callable | None:
    """The frozen form of `model` (in eval mode), traced on `example` (what it takes: a
    batch dict, or a tensor); None where tracing fails or changes the output (the caller
    keeps the eager network)."""
    try:
        with torch.no_grad():
            model.eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                fast = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, (example,), strict=False, check_trace=False)))
            gap = float((fast(example) - model(example)).abs().max())
    except Exception as exc:  # an operation TorchScript cannot trace: stay eager
        log.warning("the network cannot be frozen for inference (%s); it runs eagerly", exc)
        return None
    if gap > TOLERANCE:
        log.warning("the frozen network differs from the eager one by %.2g; it runs eagerly", gap)
        return None
    return fast
