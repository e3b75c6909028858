"""Face texture liveness after Määttä, Hadid & Pietikäinen (IJCB 2011): a printed or replayed
face loses fine texture and gains print and screen patterns, which local binary patterns
show and an RBF support vector machine separates. No network, a few hundred numbers per face:
what this CPU and NUAA's 9 training people can fit, and what holds on people never seen.

Features of a 64x64 grey face (833 numbers): uniform LBP(8,1) histograms (59 bins) of 3x3
overlapping 26x26 regions, and uniform LBP(16,2) (243 bins) and LBP(8,2) (59 bins) of the
whole face, each histogram normalised to sum 1 (scikit-image's local_binary_pattern). The
SVM works on those histograms as they are: standardising each bin (as an earlier baseline
here did) weighs rare patterns like common ones and costs most of the accuracy.

Fitting (`fit`): C and gamma chosen by leave-one-person-out cross-validation on the training
images (the setting whose pooled out-of-fold scores have the highest AUC); the threshold is
the EER point of those out-of-fold scores, so nothing about the test people sets it. (Three
person-grouped folds scored by their mean AUC picked C 1, gamma 0.1, at NUAA test EER 7.2 %,
ACER 18.5 %; with 9 people a fold of 3 leaves too few to learn from: docs/pad.md.)
The model file keeps the SVM's support vectors and coefficients (a torch artifact read with
weights_only=True: no pickled code), and scores with NumPy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lipauth.artifacts import artifact_id, load_artifact, plain, save_artifact
from lipauth.errors import InvalidInputError

FORMAT = "lipauth-texture-liveness-v1"
SIZE = 64
N_FEATURES = 9 * 59 + 243 + 59
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
GAMMA_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def lbp_features(faces: np.ndarray) -> np.ndarray:
    """(n, 64, 64[, 3]) uint8 faces (RGB is turned grey) -> (n, 833) histograms."""
    import cv2
    from skimage.feature import local_binary_pattern

    faces = np.asarray(faces)
    if faces.ndim not in (3, 4) or faces.shape[1:3] != (SIZE, SIZE) or faces.dtype != np.uint8:
        raise InvalidInputError(f"texture liveness takes (n, {SIZE}, {SIZE}[, 3]) uint8 faces, got {faces.shape} {faces.dtype}")
    out = np.empty((len(faces), N_FEATURES), np.float32)
    for i, face in enumerate(faces):
        grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY) if face.ndim == 3 else face
        fine = local_binary_pattern(grey, 8, 1, "nri_uniform")
        parts = [_hist(fine[y : y + 26, x : x + 26], 59) for y in (0, 19, 38) for x in (0, 19, 38)]
        parts += [_hist(local_binary_pattern(grey, 16, 2, "nri_uniform"), 243), _hist(local_binary_pattern(grey, 8, 2, "nri_uniform"), 59)]
        out[i] = np.concatenate(parts)
    return out


def _hist(codes: np.ndarray, bins: int) -> np.ndarray:
    return np.bincount(codes.ravel().astype(np.int64), minlength=bins)[:bins] / codes.size


@dataclass
class TextureLiveness:
    support: np.ndarray  # (n_sv, 833) support vectors
    coef: np.ndarray  # (n_sv,) dual coefficients (bona fide positive)
    intercept: float
    gamma: float
    threshold: float  # scores at or above it are bona fide
    info: dict = field(default_factory=dict)  # C, gamma, the cross-validation's figures, the data
    id: str = ""

    def decision(self, features: np.ndarray) -> np.ndarray:
        """The SVM's decision values of (n, 833) features: higher is more like a live face."""
        x = np.asarray(features, np.float64)
        sv = self.support.astype(np.float64)
        d2 = (x * x).sum(1)[:, None] + (sv * sv).sum(1)[None, :] - 2 * x @ sv.T
        return np.exp(-self.gamma * np.maximum(d2, 0)) @ self.coef.astype(np.float64) + self.intercept

    def score(self, faces: np.ndarray) -> np.ndarray:
        """One score per face, minus the threshold: >= 0 is bona fide."""
        return self.decision(lbp_features(faces)) - self.threshold

    def save(self, path: str | os.PathLike) -> Path:
        import torch

        blob = {
            "format": FORMAT, "support": torch.from_numpy(np.ascontiguousarray(self.support, np.float32)), "coef": torch.from_numpy(np.ascontiguousarray(self.coef, np.float32)),
            "intercept": float(self.intercept), "gamma": float(self.gamma), "threshold": float(self.threshold), "info": plain(self.info),
        }
        return save_artifact(path, blob)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TextureLiveness":
        b = load_artifact(path, FORMAT, "a texture liveness model")
        return cls(b["support"].numpy(), b["coef"].numpy(), b["intercept"], b["gamma"], b["threshold"], b["info"], artifact_id(path))


def fit(features: np.ndarray, bona_fide: np.ndarray, people: np.ndarray, *, folds: int | None = None, c_grid=C_GRID, gamma_grid=GAMMA_GRID, n_jobs: int = 1) -> TextureLiveness:
    """An RBF SVM on (n, 833) features. C and gamma: the setting whose out-of-fold scores,
    pooled over the people left out, have the highest AUC (folds=None: leave one person out;
    a number: that many person-grouped folds); the threshold at their EER point."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, cross_val_predict
    from sklearn.svm import SVC

    from lipauth.measure.metrics import eer

    x, y, groups = np.asarray(features, np.float64), np.asarray(bona_fide, bool), np.asarray(people)
    n_people = len(set(groups))
    if n_people < (folds or 2) or y.all() or not y.any():
        raise InvalidInputError(f"texture liveness needs bona fide and attack images of at least {folds or 2} people")
    split = LeaveOneGroupOut() if folds is None else GroupKFold(n_splits=folds)
    best, best_auc, best_oof = None, -1.0, None
    for c in c_grid:
        for gamma in gamma_grid:
            oof = cross_val_predict(SVC(kernel="rbf", C=c, gamma=gamma), x, y, groups=groups, cv=split, method="decision_function", n_jobs=n_jobs)
            auc = float(roc_auc_score(y, oof))
            if auc > best_auc:
                best, best_auc, best_oof = {"C": c, "gamma": gamma}, auc, oof
    oof_eer, threshold = eer(best_oof, y)
    svm = SVC(kernel="rbf", **best).fit(x, y)
    sign = 1.0 if svm.classes_[1] else -1.0  # decision_function is positive for classes_[1]
    info = {"C": best["C"], "gamma": best["gamma"], "cv_auc": best_auc, "oof_eer": float(oof_eer), "folds": folds or n_people, "n_bona_fide": int(y.sum()), "n_attack": int((~y).sum()), "n_people": n_people}
    return TextureLiveness(svm.support_vectors_.astype(np.float32), sign * svm.dual_coef_[0].astype(np.float32), sign * float(svm.intercept_[0]), float(best["gamma"]), float(threshold), info)
