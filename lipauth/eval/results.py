"""Evaluation results as values: per trial kind, the figures of one list of scored trials;
for a model on some clips, those per kind plus what the decision policy does; for a
cross-validation, the folds' and the pooled figures. `metrics()` / `to_dict()` give the flat
key names metrics.json and crossval.json have always used (`eer_text_independent`,
`eer_text_independent_ci95`, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


from lipauth.eval.scores import ScoreList
from lipauth.measure.metrics import bootstrap_eer_ci, eer, fnmr_at_fmr, min_dcf

MIN_SPEAKERS_FOR_CI = 3  # resampling 2 speakers only ever gives the same pair back (or no impostors)


@dataclass(frozen=True)
class TrialResult:
    kind: str  # text_independent, text_dependent, wrong_phrase
    eer: float
    eer_threshold: float
    n_genuine: int
    n_impostor: int
    fnmr_at_fmr_1pct: float
    fnmr_at_fmr_01pct: float
    min_dcf: float  # p_target 0.01
    eer_ci95: tuple[float, float] | None = None  # bootstrap over speakers

    @classmethod
    def from_scores(cls, kind: str, s: ScoreList, *, n_boot: int = 0, seed: int = 0) -> "TrialResult":
        g = s.genuine
        rate, t = eer(s.scores, g)
        ci = None
        claimed, real = s.speakers
        if n_boot and len(set(claimed) | set(real)) >= MIN_SPEAKERS_FOR_CI:
            ci = tuple(bootstrap_eer_ci(s.scores, g, claimed, real, n_boot=n_boot, seed=seed))
        return cls(
            kind, rate, t, int(g.sum()), int((~g).sum()), fnmr_at_fmr(s.scores, g, 0.01)[0], fnmr_at_fmr(s.scores, g, 0.001)[0], min_dcf(s.scores, g, 0.01)[0], ci
        )

    def flat(self) -> dict[str, Any]:
        k = self.kind
        d = {
            f"eer_{k}": self.eer, f"eer_threshold_{k}": self.eer_threshold, f"n_genuine_{k}": self.n_genuine, f"n_impostor_{k}": self.n_impostor,
            f"fnmr_at_fmr_1pct_{k}": self.fnmr_at_fmr_1pct, f"fnmr_at_fmr_0.1pct_{k}": self.fnmr_at_fmr_01pct, f"min_dcf_p0.01_{k}": self.min_dcf,
        }
        if self.eer_ci95 is not None:
            d[f"eer_{k}_ci95"] = list(self.eer_ci95)
        return d


@dataclass
class Evaluation:
    """A model on some clips (`lipauth evaluate`)."""

    model: str
    n_clips: int
    n_speakers: int
    fta_rate: float
    speakers_seen_in_training: list[str]
    trials: dict[str, TrialResult]
    decision: dict[str, Any] | None = None  # the policy: operating point, scoring, threshold
    verification: dict[str, Any] | None = None  # template trials at its threshold

    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = {
            "n_clips": self.n_clips, "n_speakers": self.n_speakers, "speakers_seen_in_training": self.speakers_seen_in_training, "fta_rate": self.fta_rate, "model": self.model,
        }
        for r in self.trials.values():
            m.update(r.flat())
        if self.decision is not None:
            m["decision"], m["verification"] = self.decision, self.verification
        return m


@dataclass
class Fold:
    test_speakers: list[str]
    trials: dict[str, TrialResult]


@dataclass
class CrossValidation:
    model: str
    n_folds: int
    leave_out: int
    speakers: list[str]
    folds: list[Fold]
    pooled: dict[str, TrialResult]  # every fold's trials in one list
    fold_mean_eer: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "folds": [{"test_speakers": f.test_speakers, **{k: v for r in f.trials.values() for k, v in r.flat().items() if k.startswith(("eer_", "n_"))}} for f in self.folds],
            "model": self.model, "n_folds": self.n_folds, "leave_out": self.leave_out, "speakers": self.speakers,
        }
        for kind, r in self.pooled.items():
            d.update(r.flat())
            d[f"eer_fold_mean_{kind}"] = self.fold_mean_eer[kind]
        return d
