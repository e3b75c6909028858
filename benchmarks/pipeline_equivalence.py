"""Does a change to the video pipeline keep what the models see? Embeds the same real clips
with this revision and with an earlier one (run from `git archive` in a subprocess) and
prints how close each clip's two embeddings are, and the EER of each over all pairs.

    python benchmarks/pipeline_equivalence.py [--baseline e826171]

Clips: 20 of grid-s1, 20 of grid-s2, the CREMA-D sample (one speaker) and the 29 talking
faces (25 people), through the bundled model, lips only (it was trained on AVLetters and
never saw these people). The pairs are a check, not an evaluation: they show whether the
two pipelines agree, not how good either is. A clip whose tracking is marginal (frames
without a face, several re-detections) can move more than a grey level of difference
suggests; the per-clip table names them.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

BASELINE = "e826171"  # the last revision before the decoder kept luma and chroma (issue #16)


def clips(data: Path) -> list[tuple[Path, str]]:
    out = [(p, "grid-s1") for p in sorted((data / "grid-s1" / "video").glob("*.mpg"))[:20]]
    out += [(p, "grid-s2") for p in sorted((data / "grid-s2" / "video").glob("*.mpg"))[:20]]
    out += [(p, "crema-" + p.name.split("_")[0]) for p in sorted((data / "crema-d-sample").glob("*.flv"))]
    with open(data / "talking-faces" / "manifest.csv") as f:
        out += [(data / "talking-faces" / row["file"], row["person"]) for row in csv.DictReader(f)]
    return out


def embed_all(data: Path, out: Path) -> None:
    """Runs inside either revision: only load_model and LipModel.clip, which both have."""
    from lipauth.api import load_model

    model = load_model()
    result = {}
    for path, person in clips(data):
        try:
            try:
                clip = model.clip(path, audio=False)
            except TypeError:  # a revision before lips-only clips
                clip = model.clip(path)
            result[path.name] = {"person": person, "embedding": model.embedder.embed_clips([clip])[0].tolist()}
        except Exception as exc:  # a clip either pipeline refuses is reported, not fatal
            result[path.name] = {"person": person, "error": type(exc).__name__}
    out.write_text(json.dumps(result))


def eer_of(emb: dict) -> tuple[float, int, int, int]:
    from lipauth.measure.metrics import eer

    ok = [k for k, v in emb.items() if "embedding" in v]
    scores, genuine = [], []
    for a, b in itertools.combinations(ok, 2):
        scores.append(float(np.dot(emb[a]["embedding"], emb[b]["embedding"])))
        genuine.append(emb[a]["person"] == emb[b]["person"])
    g = np.array(genuine)
    return eer(np.array(scores), g)[0], int(g.sum()), int((~g).sum()), len({emb[k]["person"] for k in ok})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--embed-only", type=Path, help=argparse.SUPPRESS)  # the subprocess's job
    args = ap.parse_args()
    from lipauth.corpora.shared import default_data_root

    data = default_data_root().resolve()
    if args.embed_only:
        embed_all(data, args.embed_only)
        return
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = Path(tmp) / "tree"
        old_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(repo), "archive", args.baseline], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
        print(f"embedding {len(clips(data))} clips with {args.baseline} ...", flush=True)
        env = {**os.environ, "PYTHONPATH": str(old_tree), "LIPAUTH_DATA": str(data)}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--embed-only", str(Path(tmp) / "old.json")], cwd=old_tree, env=env, check=True)
        old = json.loads((Path(tmp) / "old.json").read_text())
    print("embedding them with this revision ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        embed_all(data, Path(tmp) / "new.json")
        new = json.loads((Path(tmp) / "new.json").read_text())
    both = [k for k in old if "embedding" in old[k] and "embedding" in new.get(k, {})]
    cos = {k: float(np.dot(old[k]["embedding"], new[k]["embedding"])) for k in both}
    values = np.array(list(cos.values()))
    print(f"\n{len(both)} clips embedded by both; cosine between a clip's two embeddings: median {np.median(values):.4f}, min {values.min():.4f}, >= 0.99 for {(values >= 0.99).mean():.0%}")
    for k in sorted(cos, key=cos.get)[:5]:
        print(f"  {cos[k]:.4f}  {k}")
    refused = {k: (old[k].get("error"), new.get(k, {}).get("error")) for k in old if "error" in old[k] or "error" in new.get(k, {})}
    print(f"refused (baseline, this revision): {refused or 'none'}")
    for name, emb in ((args.baseline, old), ("this revision", new)):
        e, n_gen, n_imp, people = eer_of(emb)
        print(f"EER {name:<14} {100 * e:5.2f} %  ({n_gen} genuine / {n_imp} impostor pairs, {people} people)")


if __name__ == "__main__":
    main()
