"""How often the enrolment agreement check (Verifier._check_agreement: a clip whose cosine to
the mean of the other enrolment clips is below AGREEMENT_COSINE is refused) refuses a genuine
clip, and how often it catches a clip of another person slipped into an enrolment, with the
bundled model on AVLetters (6-clip enrolments) and the GRID face videos (3-clip enrolments).

    python benchmarks/enrolment_agreement.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lipauth.api import load_model
from lipauth.auth.verifier import AGREEMENT_COSINE
from lipauth.batch import embed_videos
from lipauth.clip import CropSpec
from lipauth.corpora.dataset import load_dataset
from lipauth.corpora.shared import default_data_root
from lipauth.scoring.templates import template_vector


def rates(groups: dict[str, np.ndarray], size: int) -> tuple[int, int, int, int]:
    """Enrolments of `size` clips per person: each clip against the mean of the others
    (genuine), and one clip of another person against `size - 1` clips of this one."""
    genuine_refused = n_gen = caught = n_imp = 0
    people = sorted(groups)
    for k, p in enumerate(people):
        e = groups[p]
        for start in range(0, len(e) - size + 1, size):
            sets = e[start:start + size]
            for i in range(size):
                n_gen += 1
                genuine_refused += float(template_vector(np.delete(sets, i, 0)) @ sets[i]) < AGREEMENT_COSINE
            other = groups[people[(k + 1) % len(people)]]
            stranger = other[(start // size) % len(other)]
            n_imp += 1
            caught += float(template_vector(sets[: size - 1]) @ stranger) < AGREEMENT_COSINE
    return genuine_refused, n_gen, caught, n_imp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    args = ap.parse_args()
    model = load_model()
    ds = load_dataset(args.data / "avletters", "avletters", CropSpec())
    avl = {s: model.embedder.embed_clips(ds.of_speakers([s])) for s in ds.speakers}
    grid = {
        "grid-s1": embed_videos(model, sorted((args.data / "grid-s1/video").glob("*.mpg"))[:30]).embeddings,  # clips that fail to acquire are left out
        "grid-s2": embed_videos(model, sorted((args.data / "grid-s2/video").glob("*.mpg"))).embeddings,
        "crema-1001": embed_videos(model, sorted((args.data / "crema-d-sample").glob("*.flv"))).embeddings,
    }
    print(f"agreement bar: cosine to the other clips < {AGREEMENT_COSINE}")
    print("| data | people | genuine clips refused | another person's clip caught |")
    print("|---|---|---|---|")
    for name, groups, size in (("AVLetters, 6-clip enrolments", avl, 6), ("GRID s1/s2 + CREMA-D 1001, 3-clip enrolments", grid, 3)):
        r, n, c, m = rates(groups, size)
        print(f"| {name} | {len(groups)} | {100 * r / n:.1f} % ({r}/{n}) | {100 * c / m:.1f} % ({c}/{m}) |")


if __name__ == "__main__":
    main()
