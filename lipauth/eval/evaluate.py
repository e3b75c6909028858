"""Score a trained model on unseen speakers and report in the field's terms.

Every speaker in the evaluated data is treated as an unseen test speaker. Clip-against-clip
trials give the threshold-free figures (EER, DET, FNMR at FMR, minDCF); probes against
enrolment templates, scored as the Verifier scores them, give the error rates at the
decision policy's threshold (chosen on the model's validation speakers, applied unchanged):
the same threshold `verify` and `identify` use.

EVAL_DIR/
    metrics.json                 per trial kind: eer, n_genuine, n_impostor, fnmr at
                                 fmr 1 % / 0.1 %, min_dcf (p_target 0.01), eer ci95
                                 (bootstrap over speakers); "decision": the policy (operating
                                 point, scoring, threshold); "verification": template
                                 trials' counts and fmr/fnmr/hter at that threshold
    scores.csv                   text-independent trials: claimed_id real_id probe_id score
    scores_text_dependent.csv    text-dependent trials, same columns
    scores_wrong_phrase.csv      same speaker, other phrase, same columns
    det.png roc.png              clip-against-clip trials
    hist.png                     template trials' decision scores with the policy's threshold
    report.md                    a short report
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lipauth.clip import LipClip
from lipauth.protocol import TRIAL_KINDS, make_trials
from lipauth.errors import InvalidInputError
from lipauth.eval.results import MIN_SPEAKERS_FOR_CI, Evaluation, TrialResult
from lipauth.eval.scores import SCORE_FILES, ScoreList
from lipauth.measure.metrics import rates_at
from lipauth.eval.plots import det_plot, histogram_plot, roc_plot
from lipauth.models.embedder import LipEmbedder
from lipauth.scoring.calibration import template_trials
from lipauth.scoring.policy import DecisionPolicy

def verification_metrics(emb: np.ndarray, clips: list[LipClip], policy: DecisionPolicy, n_enrol: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """Template trials among `clips`, decided by `policy`: counts and the error rates at its
    threshold, with the decision scores and labels (for the histogram); None without trials."""
    t = template_trials(emb, [c.meta.speaker for c in clips], n_enrol=n_enrol)
    if t is None or not t.genuine.any() or t.genuine.all():
        return None
    scores = policy.decision_scores(t.scores, t.self_similarity if t.n_enrol >= 2 else None)
    m = {"n_enrol": t.n_enrol, "n_genuine": int(t.genuine.sum()), "n_impostor": int((~t.genuine).sum()), **rates_at(scores, t.genuine, policy.threshold)}
    return m, scores, t.genuine


def speakers_seen_in_training(info: dict[str, Any]) -> set[str]:
    """The speakers whose clips trained or calibrated a model, from the run record `lipauth
    train` keeps in the model file (empty when the file has none): its training and
    validation speakers, and with refit every speaker the final network trained on."""
    split, refit = info.get("split") or {}, info.get("refit") or {}
    return {str(s) for s in [*(split.get("train") or []), *(split.get("val") or []), *(refit.get("speakers") or [])]}


def evaluate_clips(
    embedder: LipEmbedder, clips: list[LipClip], out: str | Path, *, n_boot: int = 500, n_failed: int = 0, title: str = "", embeddings: np.ndarray | None = None,
    policy: DecisionPolicy | None = None,
) -> Evaluation:
    """`embeddings`, if the caller has them already, are the clips' embeddings (no second pass).
    `policy`: the decision policy whose threshold the report applies (None: the model's own
    default, as `verify` uses it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if len({c.meta.speaker for c in clips}) < 2:
        raise InvalidInputError("evaluation needs clips of at least 2 speakers (impostor trials)")
    emb = embedder.embed_clips(clips) if embeddings is None else embeddings
    metas = [c.meta for c in clips]
    policy = policy or _model_policy(embedder)
    # a model scored on its own training speakers is not measured, and with a whitening
    # backend fitted on them it even looks worse than it is (docs/results.md): say so
    seen = sorted(speakers_seen_in_training(embedder.info) & {str(m.speaker) for m in metas})
    results, curves = {}, {}
    for kind in TRIAL_KINDS:
        trials = make_trials(metas, kind)
        if trials.n_genuine == 0 or trials.n_impostor == 0:
            continue  # e.g. no phrase labels: no text-dependent trials
        scored = ScoreList.from_trials(metas, trials, trials.scores(emb), with_phrase=kind != "text_independent")
        results[kind] = TrialResult.from_scores(kind, scored, n_boot=n_boot if kind != "wrong_phrase" else 0)
        scored.write(out / SCORE_FILES[kind])
        curves[kind.replace("_", "-")] = (scored.scores, scored.genuine)
    if not curves:
        raise InvalidInputError("no trials could be formed from these clips")
    evaluation = Evaluation(
        model=embedder.model_name, n_clips=len(clips), n_speakers=len({m.speaker for m in metas}), fta_rate=n_failed / (n_failed + len(clips)),
        speakers_seen_in_training=seen, trials=results,
    )
    title = title or embedder.model_name
    det_plot(curves, out / "det.png", f"DET — {title}")
    roc_plot(curves, out / "roc.png", f"ROC — {title}")
    verification = verification_metrics(emb, clips, policy, int((embedder.verify_thresholds or {}).get("n_enrol", 3))) if policy else None
    if verification is not None:
        evaluation.decision = policy.describe()
        evaluation.verification, scores, genuine = verification
        axis = "cosine − template self-similarity" if policy.scoring == "normalised" else "cosine similarity"
        histogram_plot(scores, genuine, out / "hist.png", f"probe vs {verification[0]['n_enrol']}-clip template — {title}", policy.threshold, xlabel=axis, label=f"threshold ({policy.operating_point})")
    else:
        ti = curves.get("text-independent") or next(iter(curves.values()))
        histogram_plot(ti[0], ti[1], out / "hist.png", f"clip pairs — {title}", None)
    metrics = evaluation.metrics()
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "report.md").write_text(report(metrics, title))
    return evaluation


def _model_policy(embedder) -> DecisionPolicy | None:
    """The policy `verify` would use with this model by default; None for a model that
    carries no thresholds (a baseline fitted in cross-validation without calibration)."""
    try:
        return DecisionPolicy.from_model(embedder)
    except InvalidInputError:
        return None


def report(m: dict[str, Any], title: str) -> str:
    seen = m.get("speakers_seen_in_training") or []
    who = f"{m['n_speakers']} speakers" if seen else f"{m['n_speakers']} unseen speakers"
    lines = [f"# Evaluation: {title}", "", f"{m['n_clips']} clips of {who}; FTA rate {100 * m['fta_rate']:.1f} %.", ""]
    if seen:
        lines += [
            f"**Not a held-out figure:** {len(seen)} of these speakers ({', '.join(seen)}) trained or calibrated this model "
            "(matched by name). Evaluate on speakers it never saw, or use `lipauth crossval`.",
            "",
        ]
    lines += ["| trials | genuine | impostor | EER (%) | 95 % CI (%) | FNMR @ FMR 1 % (%) | minDCF (0.01) |", "|---|---|---|---|---|---|---|"]
    for kind in TRIAL_KINDS:
        if f"eer_{kind}" not in m:
            continue
        ci = m.get(f"eer_{kind}_ci95")
        ci_txt = f"{100 * ci[0]:.2f}–{100 * ci[1]:.2f}" if ci else f"n/a (< {MIN_SPEAKERS_FOR_CI} speakers)"
        lines.append(
            f"| {kind.replace('_', '-')} | {m[f'n_genuine_{kind}']} | {m[f'n_impostor_{kind}']} | {100 * m[f'eer_{kind}']:.2f} | {ci_txt} | "
            f"{100 * m[f'fnmr_at_fmr_1pct_{kind}']:.2f} | {m[f'min_dcf_p0.01_{kind}']:.3f} |"
        )
    if "verification" in m:
        d, v = m["decision"], m["verification"]
        lines += [
            "",
            f"At the decision threshold `verify` uses ({d['operating_point']}, {d['scoring']} scoring: {d['threshold']:.3f}, from {d['source']}), "
            f"probes against {v['n_enrol']}-clip enrolment templates ({v['n_genuine']} genuine / {v['n_impostor']} impostor trials): "
            f"FMR {100 * v['fmr']:.2f} %, FNMR {100 * v['fnmr']:.2f} %, HTER {100 * v['hter']:.2f} %.",
        ]
    lines += ["", "![DET](det.png) ![scores](hist.png)", ""]
    return "\n".join(lines)
