"""Score-level fusion of the lips with the voice and the face: one log-likelihood ratio per
decision (issue #14, item 4).

For each set of modalities a decision can have (the lips always; the voice where the clip
has speech; the face where dlib fitted one), a logistic regression on the modalities'
cosines, fitted on validation trials with balanced classes so that its log-odds are
log-likelihood ratios, and the LLR thresholds of the operating points on those same
trials. A modality that cannot run leaves its set: the decision uses the rule fitted
without it, never a score filled in.

Per user, like the lips' enrolment-normalised scoring (lipauth.scoring.policy): a template
of several clips has its own fused LLR, leave-one-out over its clips (self_llr); a rule may
carry thresholds on the probe's LLR minus that (`normalised`), fitted on templates drawn
from validation people with enough clips (fit_normalised). Where a studio makes everyone's
face and voice alike, a user's own clips score far above other people's, and the threshold
moves up with them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lipauth.errors import InvalidInputError
from lipauth.measure.metrics import eer, threshold_at_fmr
from lipauth.scoring.points import OPERATING_POINTS, in_order
from lipauth.scoring.templates import template_vector


@dataclass(frozen=True)
class FusionRule:
    modalities: tuple[str, ...]  # in_order: lips first
    weights: tuple[float, ...]  # one per modality, on its cosine
    bias: float
    thresholds: dict[str, float]  # operating point -> the LLR a probe must reach
    # operating point -> the LLR minus the template's self_llr a probe must reach (empty: not fitted)
    normalised: dict[str, float] = field(default_factory=dict)

    def llr(self, scores: dict[str, float]) -> float:
        return float(self.bias + sum(w * scores[m] for m, w in zip(self.modalities, self.weights)))

    def self_llr(self, enrolled: dict[str, np.ndarray]) -> float | None:
        """The mean leave-one-out LLR of a template's clips against the mean of its others:
        enrolled is modality -> (n, D) vectors of the same n clips. None with fewer than 2
        clips, or where the modalities do not hold the same clips."""
        counts = {len(enrolled[m]) for m in self.modalities}
        if len(counts) != 1 or counts.pop() < 2:
            return None
        n = len(enrolled["lips"])
        loo = [self.llr({m: float(template_vector(np.delete(enrolled[m], i, axis=0)) @ enrolled[m][i]) for m in self.modalities}) for i in range(n)]
        return float(np.mean(loo))

    def to_dict(self) -> dict[str, Any]:
        d = {"modalities": list(self.modalities), "weights": list(self.weights), "bias": self.bias, "thresholds": dict(self.thresholds)}
        return {**d, "normalised": dict(self.normalised)} if self.normalised else d


class ScoreFusion:
    """The fitted rules, one per set of modalities that includes the lips and another."""

    def __init__(self, rules: list[FusionRule], source: str = "") -> None:
        self.rules = {r.modalities: r for r in rules}
        self.source = source

    @property
    def modalities(self) -> tuple[str, ...]:
        """Every modality some rule uses."""
        used = {m for key in self.rules for m in key}
        return in_order(used)

    def rule_for(self, available: tuple[str, ...]) -> FusionRule | None:
        """The rule for exactly these modalities; None for the lips alone (the lip policy decides)."""
        key = in_order(available)
        return self.rules.get(key)

    def judge(self, scores: dict[str, float], enrolled: dict[str, np.ndarray], probe: dict[str, np.ndarray], per_user: bool = True) -> tuple[float, dict[str, float], str] | None:
        """The fusion interface, late and early alike (lipauth.scoring.joint.JointFusion.judge):
        for a probe against a template over the modalities in `scores` (their cosines, lips
        included), (its LLR, the LLR each operating point asks, how that was set), or None where
        no rule covers those modalities. enrolled: modality -> (n, D) the template's clip
        vectors; probe: modality -> the probe's vector. per_user: this user's own level (their
        clips' LLR against each other) where the rule and the template allow it."""
        used = in_order(scores)
        rule = self.rule_for(used)
        if rule is None:
            return None
        thresholds, how = dict(rule.thresholds), "the rule's threshold"
        own = rule.self_llr({m: enrolled[m] for m in used}) if per_user and rule.normalised else None
        if own is not None:
            thresholds = {k: own + v for k, v in rule.normalised.items()}
            how = f"this user's: own LLR {own:.2f}, offsets {', '.join(f'{k} {v:+.2f}' for k, v in rule.normalised.items())}"
        return rule.llr(scores), thresholds, how

    def score_llr(self, scores: dict[str, float]) -> float | None:
        """The LLR of these cosines (lips included) by the rule for their modalities; None where none covers them."""
        rule = self.rule_for(tuple(scores)) if "lips" in scores else None
        return rule.llr(scores) if rule is not None else None

    @classmethod
    def fit(cls, scores: dict[str, np.ndarray], genuine: np.ndarray, source: str = "", weights: np.ndarray | None = None) -> "ScoreFusion":
        """scores: modality -> (N,) cosines of the same N validation trials (lips and at least
        one other); one rule per subset of them that holds the lips and another modality.
        weights: per trial (None: all 1), e.g. more for the few genuine pairs across sessions
        (session_weights)."""
        genuine = np.asarray(genuine, bool)
        w = np.ones(len(genuine)) if weights is None else np.asarray(weights, np.float64)
        _check_trials(scores, genuine)
        present = list(in_order(scores))
        rules = []
        for size in range(1, len(present)):
            for extra in itertools.combinations(present[1:], size):
                mods = ("lips", *extra)
                x = np.stack([np.asarray(scores[m], np.float64) for m in mods], axis=1)
                lr = balanced_logistic(x, genuine, w)
                points = llr_thresholds(lr.decision_function(x), genuine, w)
                rules.append(FusionRule(mods, tuple(float(c) for c in lr.coef_[0]), float(lr.intercept_[0]), points))
        return cls(rules, source)

    @classmethod
    def fit_per_modality(
        cls, scores: dict[str, np.ndarray], genuine: np.ndarray, source: str = "", weights: np.ndarray | None = None, weigh: tuple[str, ...] | None = None
    ) -> "ScoreFusion":
        """Each modality calibrated on its own (a balanced logistic regression on its cosine:
        two numbers), the LLRs summed: a modality left out adds nothing, and adding one adds
        one calibration. `weigh`: the modalities whose LLR counts (None: all); the others
        weigh 0, their scores reported and not deciding (the bundled lips, which do not hold
        across recordings: configs/fusion.yaml). Thresholds per operating point on the summed
        LLR, per set of modalities, from the same trials."""
        genuine = np.asarray(genuine, bool)
        w = np.ones(len(genuine)) if weights is None else np.asarray(weights, np.float64)
        _check_trials(scores, genuine)
        present = list(in_order(scores))
        weigh = tuple(present) if weigh is None else weigh
        if not any(m in weigh for m in present):
            raise InvalidInputError(f"fusion must weigh at least one of {', '.join(present)}")
        calibration = {m: (0.0, 0.0) for m in present}
        for m in present:
            if m in weigh:
                lr = balanced_logistic(np.asarray(scores[m], np.float64)[:, None], genuine, w)
                calibration[m] = (float(lr.coef_[0][0]), float(lr.intercept_[0]))
        rules = []
        for size in range(1, len(present)):
            for extra in itertools.combinations(present[1:], size):
                mods = ("lips", *extra)
                weights_m = tuple(calibration[m][0] for m in mods)
                if not any(weights_m):
                    continue  # nothing here weighs: the lips' own policy decides
                bias = float(sum(calibration[m][1] for m in mods))
                llr = bias + sum(wm * np.asarray(scores[m], np.float64) for m, wm in zip(mods, weights_m))
                rules.append(FusionRule(mods, weights_m, bias, llr_thresholds(llr, genuine, w)))
        return cls(rules, source)

    def to_dict(self) -> dict[str, Any]:
        return {"rules": [r.to_dict() for r in self.rules.values()], "source": self.source}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ScoreFusion":
        rules = [
            FusionRule(tuple(r["modalities"]), tuple(r["weights"]), float(r["bias"]), {k: float(v) for k, v in r["thresholds"].items()}, {k: float(v) for k, v in r.get("normalised", {}).items()})
            for r in d["rules"]
        ]
        for r in rules:
            if r.modalities[0] != "lips" or set(r.thresholds) != set(OPERATING_POINTS) or (r.normalised and set(r.normalised) != set(OPERATING_POINTS)):
                raise InvalidInputError(f"a fusion rule for {r.modalities} is not one lipauth makes")
        return cls(rules, d.get("source", ""))


def across_auc(x: np.ndarray, genuine: np.ndarray, across: np.ndarray) -> float | None:
    """AUC of the genuine pairs across recordings against every impostor pair; None where
    there are none of either."""
    from sklearn.metrics import roc_auc_score

    keep = (genuine & across) | ~genuine
    if not (genuine & across).any() or genuine[keep].all():
        return None
    return float(roc_auc_score(genuine[keep], x[keep]))


def _check_trials(scores: dict[str, np.ndarray], genuine: np.ndarray) -> None:
    if "lips" not in scores or len(scores) < 2:
        raise InvalidInputError("fusion needs the lips' scores and at least one other modality's")
    if genuine.all() or not genuine.any():
        raise InvalidInputError("fusion needs genuine and impostor trials")


def fit_normalised(fusion: ScoreFusion, clips: list[tuple[str, dict[str, np.ndarray]]], template_size: int = 3, draws: int = 10, seed: int = 0) -> int:
    """Give each rule of `fusion` thresholds on the LLR minus the template's self_llr, from
    templates of `template_size` clips drawn `draws` times from every person with more clips
    than that: their other clips are genuine probes, every other person's clips impostors.
    clips: (person, modality -> vector) with every modality. Returns how many people gave
    templates (0: none has enough clips, and the rules are left as they were)."""
    rng = np.random.default_rng(seed)
    people = sorted({p for p, _ in clips})
    owners = [p for p in people if sum(q == p for q, _ in clips) > template_size]
    # the same templates for every rule: (whose, the clips in it)
    templates = []
    for person in owners:
        own = [i for i, (q, _) in enumerate(clips) if q == person]
        templates += [(person, sorted(rng.choice(own, template_size, replace=False).tolist())) for _ in range(draws)]
    for key, rule in list(fusion.rules.items()) if templates else ():
        normalised, genuine = [], []
        for person, chosen in templates:
            enrolled = {m: np.stack([clips[i][1][m] for i in chosen]) for m in key}
            own_llr = rule.self_llr(enrolled)
            means = {m: template_vector(v) for m, v in enrolled.items()}
            for i, (q, v) in enumerate(clips):
                if i not in chosen:
                    normalised.append(rule.llr({m: float(means[m] @ v[m]) for m in key}) - own_llr)
                    genuine.append(q == person)
        fusion.rules[key] = FusionRule(rule.modalities, rule.weights, rule.bias, rule.thresholds, llr_thresholds(np.array(normalised), np.array(genuine)))
    return len(owners)


def refit_thresholds(fusion: ScoreFusion, clips: list[tuple[str, dict[str, np.ndarray]]], draws: int = 10, seed: int = 0) -> ScoreFusion:
    """The same rules (their calibration: weights and bias) with thresholds refitted on
    other recordings (lipauth calibrate): each rule's `thresholds` on the LLRs of every clip
    pair of `clips` that holds its modalities, as the recipe fits them, and its `normalised`
    thresholds on templates of as many clips as every person allows while keeping a probe
    (fit_normalised; left as they were where that is fewer than 2). clips: (person,
    modality -> vector), the lips among them. InvalidInputError where no rule can be
    refitted (no clip pair with a voice or a face, or no genuine or impostor pair)."""
    rules, refitted = [], 0
    for key, rule in fusion.rules.items():
        have = [(p, v) for p, v in clips if all(m in v for m in key)]
        llr, genuine = [], []
        for (pa, va), (pb, vb) in itertools.combinations(have, 2):
            llr.append(rule.llr({m: float(va[m] @ vb[m]) for m in key}))
            genuine.append(pa == pb)
        genuine_a = np.array(genuine, bool)
        if not genuine_a.any() or genuine_a.all():
            rules.append(rule)
            continue
        rules.append(FusionRule(rule.modalities, rule.weights, rule.bias, llr_thresholds(np.array(llr), genuine_a), rule.normalised))
        refitted += 1
    if not refitted:
        raise InvalidInputError("no fusion rule could be refitted: the recordings need genuine and impostor clip pairs with a voice or a face")
    out = ScoreFusion(rules, fusion.source + " (thresholds refitted)")
    counts = [sum(p == q for q, _ in clips) for p in {p for p, _ in clips}]
    if min(counts) >= 3:  # a template of 2 or more clips and a probe left for every person
        fit_normalised(out, [(p, v) for p, v in clips if all(m in v for m in out.modalities)], template_size=min(3, min(counts) - 1), draws=draws, seed=seed)
    return out


def llr_thresholds(llr: np.ndarray, genuine: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
    """The LLR each operating point asks of a probe, from validation trials' LLRs."""
    # a lower false-match rate never takes a lower threshold (where the validation trials
    # separate, the lowest threshold with FMR <= 1 % can lie below the EER's)
    at_eer = eer(llr, genuine, weights)[1]
    at_1 = max(at_eer, threshold_at_fmr(llr, genuine, 0.01))
    points = {"eer": at_eer, "fmr_1pct": at_1, "fmr_0.1pct": max(at_1, threshold_at_fmr(llr, genuine, 0.001))}
    return {k: float(v) for k, v in points.items()}


def people_folds(people, folds: int, seed: int = 0) -> dict[str, int]:
    """person -> fold, the people dealt at random into `folds` (the held-out estimates)."""
    people = sorted(set(people))
    return dict(zip(np.random.default_rng(seed).permutation(people).tolist(), itertools.cycle(range(folds))))


def balanced_logistic(x: np.ndarray, genuine: np.ndarray, weights: np.ndarray | None = None):
    """Logistic regression with balanced classes (its log-odds are LLRs, prior-free)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(class_weight="balanced").fit(x, genuine, sample_weight=weights)


def cross_validated_llr(
    scores: dict[str, np.ndarray], genuine: np.ndarray, people_a: np.ndarray, people_b: np.ndarray, folds: int = 4, seed: int = 0, weights: np.ndarray | None = None,
    weigh: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """How fusion does on people it was not fitted on: people are dealt into `folds`; each
    fold's trials (both clips of its people) get the LLR of the rule for every modality in
    `scores`, fitted (with the trial `weights`, as ScoreFusion.fit) on the trials among the
    other folds' people; with `weigh` (the modalities that count), by
    ScoreFusion.fit_per_modality instead of one regression on every cosine. Returns (llr, scored): the trials across folds
    are scored by no fold."""
    genuine = np.asarray(genuine, bool)
    fold = people_folds(set(people_a) | set(people_b), folds, seed)
    fa, fb = np.array([fold[p] for p in people_a]), np.array([fold[p] for p in people_b])
    x = np.stack([np.asarray(scores[m], np.float64) for m in in_order(scores)], axis=1)
    llr, scored = np.zeros(len(x)), np.zeros(len(x), bool)
    for k in range(folds):
        test, train = (fa == k) & (fb == k), (fa != k) & (fb != k)
        if not test.any() or genuine[train].all() or not genuine[train].any():
            continue
        w = None if weights is None else np.asarray(weights, np.float64)[train]
        if weigh is not None:
            names = list(in_order(scores))
            rule = ScoreFusion.fit_per_modality({m: x[train, i] for i, m in enumerate(names)}, genuine[train], weights=w, weigh=weigh).rule_for(tuple(names))
            llr[test] = rule.bias + x[test] @ np.asarray(rule.weights)
        else:
            llr[test] = balanced_logistic(x[train], genuine[train], w).decision_function(x[test])
        scored[test] = True
    return llr, scored


def session_weights(genuine: np.ndarray, across_sessions: np.ndarray) -> np.ndarray:
    """Trial weights that give the genuine pairs across sessions (two recordings of a person)
    as much weight, together, as the genuine pairs within one session. Fitted on same-session
    pairs alone, the rules trust the lips, which hold within a session and not across
    (docs/results.md, "Filmed elsewhere"); impostor pairs keep weight 1."""
    genuine, across = np.asarray(genuine, bool), np.asarray(across_sessions, bool)
    w = np.ones(len(genuine))
    cross, same = genuine & across, genuine & ~across
    if cross.any() and same.any():
        w[cross] = same.sum() / cross.sum()
    return w
