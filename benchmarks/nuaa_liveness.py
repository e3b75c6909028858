"""Face liveness on real photo attacks: the NUAA Photograph Imposter Database's official
protocol (train list: sessions 1-2 of 9 people; test list: session 3 of 16 people), reported
in ISO/IEC 30107-3 terms. The models, from the same run:

  seed Siamese   lipauth.pad.liveness trained on the NUAA train list (contrastive loss,
                 real-real vs real-photo pairs per client), scored against its bona fide
                 reference, as `verify --liveness` scores a user without enrolled faces
  LBP + SVM      the texture baseline of Maatta et al. (IJCB 2011), on the same images:
                 uniform LBP(8,1) histograms of 3x3 overlapping regions, LBP(8,2) and
                 LBP(16,2) of the whole face, an RBF SVM (scikit-image, scikit-learn), on
                 standardised features with C=1 (the first baseline here)
  texture        lipauth.pad.texture: the same histograms as they are (each sums to 1), C
                 and gamma by leave-one-person-out on the train list, the threshold at the
                 EER point of the pooled out-of-fold train scores (not VAL_CLIENTS)
  texture, bundled   lipauth/assets/texture.pt as shipped (configs/texture.yaml: the same
                 fit), the default face_liveness check, at its own threshold
  Siamese, bundled   lipauth/assets/liveness.pt as shipped (trained on simulated print and
                 replay attacks of video frames, never on NUAA; opt-in since issue #25)

The operating point of each is the EER threshold on 2 people of the train list held out
from its training (VAL_CLIENTS), never the test list. The test list then gives APCER,
BPCER and ACER at that threshold, plus BPCER at APCER 5 % and 1 % and the test EER
(threshold-free).

    python benchmarks/nuaa_liveness.py [--data ../shared/data] [--epochs 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from lipauth.artifacts import LIVENESS_MODEL, bundled
from lipauth.corpora.shared import default_data_root
from lipauth.measure.metrics import eer
from lipauth.measure.pad_metrics import apcer_bpcer, bpcer_at_apcer
from lipauth.pad.liveness import LivenessModel
from lipauth.training.liveness import LivenessTrainConfig, train_liveness
from lipauth.corpora.nuaa import read_nuaa

VAL_CLIENTS = ("0005", "0008")  # train-list people whose images set each model's threshold


def lbp_features(crop: np.ndarray) -> np.ndarray:
    from skimage.feature import local_binary_pattern

    grey = crop[..., 0]
    hist = lambda codes, bins: np.bincount(codes.ravel().astype(int), minlength=bins) / codes.size  # noqa: E731
    fine = local_binary_pattern(grey, 8, 1, "nri_uniform")
    parts = [hist(fine[y : y + 26, x : x + 26], 59) for y in (0, 19, 38) for x in (0, 19, 38)]
    parts += [hist(local_binary_pattern(grey, 16, 2, "nri_uniform"), 243), hist(local_binary_pattern(grey, 8, 2, "nri_uniform"), 59)]
    return np.concatenate(parts)


def official_lists(root: Path, transform=None):
    """(train, test, fit, val): NUAA's official lists, and the train list split into the
    people who train and VAL_CLIENTS, who set the thresholds. transform: applied to each
    sample first (another benchmark's input, e.g. LBP code maps)."""
    train, _ = read_nuaa(root, "train", variant="normalized")
    test, _ = read_nuaa(root, "test", variant="normalized")
    if transform is not None:
        train, test = [transform(s) for s in train], [transform(s) for s in test]
    return train, test, [s for s in train if s.client not in VAL_CLIENTS], [s for s in train if s.client in VAL_CLIENTS]


def report(name: str, val_scores, val_bona, test_scores, test_bona, test_species, threshold: float | None = None) -> dict:
    """threshold: the operating point, where the model sets its own; else the EER point of
    the validation scores."""
    if threshold is None:
        _, threshold = eer(val_scores, val_bona)
    at = apcer_bpcer(test_scores, test_bona, test_species, threshold)
    b5, _ = bpcer_at_apcer(test_scores, test_bona, test_species, 0.05)
    b1, _ = bpcer_at_apcer(test_scores, test_bona, test_species, 0.01)
    test_eer, _ = eer(test_scores, test_bona)
    return {"model": name, "threshold": float(threshold), "apcer": at["apcer_max"], "bpcer": at["bpcer"], "acer": (at["apcer_max"] + at["bpcer"]) / 2, "bpcer_at_apcer_5pct": b5, "bpcer_at_apcer_1pct": b1, "test_eer": test_eer}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--epochs", type=int, default=10, help="the seed Siamese's epochs")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    train, test, fit, val = official_lists(args.data / "nuaa")
    crops = lambda samples: np.concatenate([s.crops for s in samples])  # noqa: E731
    bona = lambda samples: np.array([s.bona_fide for s in samples])  # noqa: E731
    species = np.array([s.attack or "bona_fide" for s in test], object)
    rows = []

    t = time.time()
    torch.manual_seed(0)
    siamese, _ = train_liveness(fit, LivenessTrainConfig(epochs=args.epochs, steps_per_epoch=60))
    rows.append(report("seed Siamese (NUAA train)", siamese.embed(crops(val)) @ siamese.reference, bona(val), siamese.embed(crops(test)) @ siamese.reference, bona(test), species) | {"seconds": round(time.time() - t)})

    t = time.time()
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    feats = lambda samples: np.stack([lbp_features(s.crops[0]) for s in samples])  # noqa: E731
    scaler = StandardScaler().fit(feats(fit))
    svm = SVC(C=1.0, kernel="rbf").fit(scaler.transform(feats(fit)), bona(fit))
    score = lambda samples: svm.decision_function(scaler.transform(feats(samples)))  # noqa: E731
    rows.append(report("LBP + SVM (NUAA train)", score(val), bona(val), score(test), bona(test), species) | {"seconds": round(time.time() - t)})

    t = time.time()
    from lipauth.pad.texture import fit as fit_texture
    from lipauth.pad.texture import lbp_features as texture_features

    texture = fit_texture(texture_features(crops(train)), bona(train), np.array([s.client for s in train]))
    test_texture = texture.decision(texture_features(crops(test)))
    rows.append(report(f"texture, Maatta et al. (lipauth.pad.texture: C {texture.info['C']:g}, gamma {texture.info['gamma']:g} by leave-one-person-out)", None, None, test_texture, bona(test), species, texture.threshold) | {"seconds": round(time.time() - t)})

    from lipauth.artifacts import TEXTURE_MODEL
    from lipauth.pad.texture import TextureLiveness

    shipped_texture = TextureLiveness.load(bundled(TEXTURE_MODEL))
    rows.append(report("texture, bundled (lipauth/assets/texture.pt: the default face_liveness check)", None, None, shipped_texture.decision(texture_features(crops(test))), bona(test), species, shipped_texture.threshold))

    shipped = LivenessModel.load(bundled(LIVENESS_MODEL))
    rows.append(report("Siamese, bundled (simulated attacks on video; opt-in face_liveness_siamese)", shipped.embed(crops(val)) @ shipped.reference, bona(val), shipped.embed(crops(test)) @ shipped.reference, bona(test), species))

    people = lambda keep: len({s.client for s in test if keep(s)})  # noqa: E731
    counts = {"bona_fide": int(bona(test).sum()), "attack": int((~bona(test)).sum()), "bona_fide_people": people(lambda s: s.bona_fide), "attack_people": people(lambda s: not s.bona_fide), "people": people(lambda s: True)}
    print(f"NUAA official test list: {counts['bona_fide']} bona fide images of {counts['bona_fide_people']} people, {counts['attack']} photo attacks of {counts['attack_people']} people ({counts['people']} people in all); session 3, unseen in training.")
    print(f"Thresholds: the EER point on train-list people {', '.join(VAL_CLIENTS)} ({len(val)} images), held out of training.\n")
    print("| model | APCER (%) | BPCER (%) | ACER (%) | BPCER @ APCER 5 % | BPCER @ APCER 1 % | test EER (%) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {100 * r['apcer']:.1f} | {100 * r['bpcer']:.1f} | {100 * r['acer']:.1f} | {100 * r['bpcer_at_apcer_5pct']:.1f} | {100 * r['bpcer_at_apcer_1pct']:.1f} | {100 * r['test_eer']:.1f} |")
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "val_clients": VAL_CLIENTS, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
