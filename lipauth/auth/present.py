"""The sentences a person reads about a Decision, rendered from its fields in one place: the
CLI prints them, the service and `--json` carry them as `reasons`. Nothing parses them;
programs read the fields."""

from __future__ import annotations

from lipauth.auth.decision import Decision


def headline(d: Decision) -> str:
    """One line: the verdict, what decided it and at which operating point."""
    verdict = "ACCEPT" if d.accepted else "REJECT"
    llr = f", LLR {d.llr:+.2f} (threshold {d.llr_threshold:+.2f})" if d.llr is not None and d.llr_threshold is not None else ""
    if d.fused:
        scores = ", ".join(f"{m} {s:.3f}" for m, s in d.modality_scores.items())
        return f"{verdict} {d.user}: {'+'.join(d.fused)} ({scores}){llr} ({d.operating_point}); lips alone: threshold {d.threshold:.3f}"
    return f"{verdict} {d.user}: score {d.score:.3f}, threshold {d.threshold:.3f} ({d.operating_point}){llr}"


def notes(d: Decision) -> list[str]:
    """What a reader should know beside the scores: modalities left out, checks not run, a
    refused passphrase, a video cut to its first seconds."""
    out = [f"{m} left out: {why}" for m, why in d.left_out.items()]
    out += [f"{c} not run: {why}" for c, why in d.not_run.items()]
    if d.passphrase_refused:
        out.append("the passphrase given is not the enrolled one")
    if d.trimmed_s:
        out.append(f"only the first {d.trimmed_s:g} s of the video were used (the most this pipeline holds)")
    return out


def reasons(d: Decision) -> list[str]:
    """Every line: the lips' score against their threshold, the fused LLR where it decided,
    the notes, and each check."""
    lips_passed = d.score >= d.threshold
    out = [f"{'lip ' if d.modality_scores else ''}score {d.score:.3f} {'>=' if lips_passed else '<'} threshold {d.threshold:.3f}" + (f" ({d.how})" if d.how else "")]
    if d.fused and d.llr is not None and d.llr_threshold is not None:
        scores = ", ".join(f"{m} {s:.3f}" for m, s in d.modality_scores.items())
        passed = d.llr >= d.llr_threshold
        out.append(f"fused {'+'.join(d.fused)} ({scores}): LLR {d.llr:.2f} {'>=' if passed else '<'} {d.llr_threshold:.2f} ({d.operating_point}, {d.fused_how})")
    out += notes(d)
    for c in d.checks:
        if c.score is None:
            continue
        out.append(f"{c.name}: {c.score:.3f} {'>=' if c.passed else '<'} {c.threshold:.3f}, {'passed' if c.passed else 'FAILED'} ({c.detail})")
    return out
