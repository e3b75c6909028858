"""DET (probit axes), ROC and score histograms, one PNG each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import norm

from lipauth.measure.metrics import eer, error_curve

DET_TICKS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def det_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str) -> None:
    """curves: label -> (scores, genuine). Axes are probit-scaled FMR and FNMR (in %)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    # rates below the axes' lowest tick are drawn on the axis (a perfect separation shows as
    # a curve along the bottom-left edges, not as nothing)
    clip = lambda r: norm.ppf(np.clip(r, DET_TICKS[0], 1 - 5e-4))  # noqa: E731
    for label, (scores, genuine) in curves.items():
        c = error_curve(scores, genuine)
        # every curve in the legend is seen: EER and trials in its label, and markers, since
        # a curve that separates perfectly lies in the plot's corner, under the axes
        rate = eer(scores, genuine)[0]
        ax.plot(clip(c.fmr), clip(c.fnmr), marker="o", markersize=3, markevery=max(1, len(c.fmr) // 12), lw=2, zorder=3,
                label=f"{label} (EER {100 * rate:.1f} %, {int(genuine.sum())} gen. / {int((~genuine).sum())} imp.)")  # fmt: skip
    ticks = norm.ppf(DET_TICKS)
    labels = [f"{100 * t:g}" for t in DET_TICKS]
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylim(ticks[0], ticks[-1])
    ax.plot([ticks[0], ticks[-1]], [ticks[0], ticks[-1]], ls=":", c="grey", lw=0.8)
    ax.set_xlabel("FMR (%)")
    ax.set_ylabel("FNMR (%)")
    _finish(plt, fig, ax, out, title)


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], out: Path, title: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 5))
    for label, (scores, genuine) in curves.items():
        c = error_curve(scores, genuine)
        ax.plot(c.fmr, 1 - c.fnmr, label=label)
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_xlabel("FMR")
    ax.set_ylabel("1 - FNMR (true match rate)")
    _finish(plt, fig, ax, out, title)


def histogram_plot(
    scores: np.ndarray, genuine: np.ndarray, out: Path, title: str, threshold: float | None = None, *, xlabel: str = "cosine similarity", label: str = "threshold", names: tuple[str, str] = ("impostor", "genuine")
) -> None:
    """names: what the two classes are called (("attack", "bona fide") for liveness scores)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    bins = np.linspace(min(-0.2, scores.min()), max(1.0, scores.max()), 60)
    ax.hist(scores[~genuine], bins=bins, density=True, alpha=0.55, label=f"{names[0]} (n={int((~genuine).sum())})")
    ax.hist(scores[genuine], bins=bins, density=True, alpha=0.55, label=f"{names[1]} (n={int(genuine.sum())})")
    if threshold is not None:
        ax.axvline(threshold, c="k", ls="--", lw=1, label=f"{label} {threshold:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _finish(plt, fig, ax, out: Path, title: str) -> None:
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
