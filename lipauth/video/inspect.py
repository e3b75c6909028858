"""Contact sheet: sampled frames with the lip landmarks and crop box drawn, above the crops
the pipeline produced from them, with the crop-space landmarks drawn on those. This is how
a person checks that preprocessing is right."""

from __future__ import annotations

import os

import numpy as np

from lipauth.clip import LipClip
from lipauth.video.pipeline import PipelineTrace


def contact_sheet(clip: LipClip, trace: PipelineTrace, out: str | os.PathLike, *, n: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    t = clip.n_frames
    picks = np.unique(np.linspace(0, t - 1, min(n, t)).round().astype(int))
    fig, axes = plt.subplots(2, len(picks), figsize=(2.2 * len(picks), 4.4), squeeze=False)
    boxes = trace.boxes
    # Show a face-sized window around the crops, the same for every column, so motion shows.
    cx, cy = (boxes[:, 0] + boxes[:, 2]).mean() / 2, (boxes[:, 1] + boxes[:, 3]).mean() / 2
    half = float((boxes[:, 2] - boxes[:, 0]).max())
    for col, i in enumerate(picks):
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(trace.video.rgb([i])[0])
        x0, y0, x1, y1 = boxes[i]
        top.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="yellow", lw=1.2))
        colour = "red" if trace.missing[i] else "lime"
        top.scatter(trace.points[i, :, 0], trace.points[i, :, 1], s=4, c=colour)
        top.set_xlim(cx - half, cx + half)
        top.set_ylim(cy + half * 0.8, cy - half * 0.8)
        label = f"frame {i}" + (" (interp.)" if trace.missing[i] else "") + (" det" if trace.track.detected[i] else "")
        top.set_title(label, fontsize=8)
        crop = clip.frames[i]
        h, w = crop.shape[:2]
        bottom.imshow(crop, cmap="gray" if crop.ndim == 2 else None, vmin=0, vmax=255, extent=(0, w, h, 0))
        if clip.landmarks is not None:
            lm = clip.landmarks[i]
            bottom.scatter(lm[:, 0] * w, lm[:, 1] * h, s=4, c=colour)
        bottom.set_title(f"crop {w}x{h}", fontsize=8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    meta = clip.meta
    fig.suptitle(
        f"{meta.source or meta.clip_id} | backend {clip.extra.get('backend', '?')} | {t} frames @ {clip.fps:.2f} fps | "
        f"{int(trace.track.detected.sum())} detections, {int(trace.missing.sum())} interpolated",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
