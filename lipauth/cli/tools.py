"""Tools without a store or around it: compare, embed, score, check-sync, serve, keygen and demo."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lipauth.cli.common import (
    EXIT_ERROR,
    CooldownOpt,
    MaxFailuresOpt,
    ModalitiesOpt,
    ModelOpt,
    PointOpt,
    ScoringOpt,
    StoreOpt,
    _early_checks,
    _fail,
    _print_checks,
    _progress,
    _verifier,
    app,
    console,
    err_console,
    handle_errors,
)
from lipauth.errors import InvalidInputError, LipauthError


@app.command()
def compare(
    a: Path = typer.Argument(..., help="A video of someone speaking."),
    b: Path = typer.Argument(..., help="Another video."),
    model: Optional[Path] = ModelOpt,
    operating_point: str = PointOpt,
    liveness: bool = typer.Option(False, "--liveness", help="Also run the presentation-attack checks on both videos."),
    modalities: Optional[str] = ModalitiesOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """Are the two videos the same person? No enrolment: the fusion rules' clip-pair
    thresholds (the lips' alone with --modalities lips). Exit 0 same, 1 different, 2 error."""
    import json

    try:
        from lipauth.scoring.points import check_point_for_modalities, parse_modalities

        chosen = parse_modalities(modalities)
        point = _early_checks(model, operating_point, videos=[a, b])
        check_point_for_modalities(point, chosen)
        from lipauth.api import load_model
        from lipauth.auth.compare import compare as compare_videos

        checks = None
        if liveness:
            from lipauth.pad.checks import PresentationChecks

            checks = PresentationChecks.load()
        c = compare_videos(load_model(model), a, b, operating_point=point, checks=checks, modalities=chosen)
    except LipauthError as exc:
        _fail(exc, as_json)
    if as_json:
        print(json.dumps(c.to_dict()))
    else:
        verdict = "[green]SAME PERSON[/green]" if c.accepted else "[red]DIFFERENT[/red]"
        if c.fused:
            scores = ", ".join(f"{m} {s:.3f}" for m, s in c.modality_scores.items())
            console.print(f"{verdict}: {'+'.join(c.fused)} LLR {c.llr:+.2f} {'>=' if c.llr >= c.llr_threshold else '<'} {c.llr_threshold:+.2f} ({c.operating_point}, clip against clip; {scores})", highlight=False)
        else:
            llr = f", LLR {c.llr:+.2f}" if c.llr is not None else ""
            console.print(f"{verdict}: lip score {c.score:.3f}, threshold {c.threshold:.3f} ({c.operating_point}, clip against clip){llr}", highlight=False)
        for m, why in c.left_out.items():
            console.print(f"{m} left out: {why}", highlight=False)
        _print_checks(c.checks)
    raise typer.Exit(0 if c.accepted else 1)


@app.command()
@handle_errors
def embed(
    videos: list[Path] = typer.Argument(..., help="Videos to embed."),
    out: Path = typer.Option(..., "--out", help="Output .npz (embeddings (N, D) of the lips, paths, model_id, the videos that failed with why, and each other modality's vectors), or - for JSON lines on stdout."),
    model: Optional[Path] = ModelOpt,
    modalities: Optional[str] = typer.Option(None, "--modalities", help="lips (the default), or lips with voice and/or face, comma-separated: every modality's vectors."),
) -> None:
    """Export embeddings of many videos (one process, one model load). A video that fails
    is recorded in the file and on stderr; the others go on."""
    import json

    import numpy as np

    from lipauth.batch import embed_modalities, write_embeddings
    from lipauth.scoring.points import parse_modalities

    to_stdout = str(out) == "-"
    if not to_stdout and out.suffix != ".npz":
        raise InvalidInputError(f"{out}: --out must end in .npz, or be - for JSON lines")
    chosen = parse_modalities(modalities) or ("lips",)
    _early_checks(model, "eer")
    from lipauth.api import load_model
    from lipauth.auth.modalities import ModalityScorer

    m = load_model(model)
    modal = ModalityScorer(chosen, m.embedder.fusion if len(chosen) > 1 else None)
    with _progress("embed") as bar:
        done, others = embed_modalities(m, modal, videos, on_progress=bar)
    for path, why in done.failures.items():
        err_console.print(f"[yellow]failed[/yellow] {path}: {why}", highlight=False)
    if to_stdout:
        for i, path in enumerate(done.paths):
            row = {"path": path, "model_id": m.id, "lips": done.embeddings[i].tolist()}
            row.update({name: None if np.isnan(v[i]).any() else v[i].tolist() for name, v in others.items()})
            print(json.dumps(row))
    else:
        write_embeddings(out, done, m.id, others)
        extra = "".join(f", {name} {int((~np.isnan(v).any(axis=1)).sum())}" for name, v in others.items())
        console.print(f"{len(done.paths)} embeddings ({done.embeddings.shape[1] if len(done.paths) else 0}-d{extra}) written to {out}; {len(done.failures)} failed", highlight=False)
    if not done.paths:
        raise typer.Exit(EXIT_ERROR)


@app.command()
@handle_errors
def score(
    trials: Path = typer.Option(..., "--trials", help="Trial list: one 'ENROL PROBE [target|nontarget]' per line. ENROL is a video, or a user id with --store."),
    out: Path = typer.Option(..., "--out", help="The scores as a 4-column score file (claimed_id real_id probe_id score), as evaluate writes; '#' lines hold the settings and the trials not scored."),
    store: Optional[str] = typer.Option(None, "--store", help="Score probes against enrolled users of this store (batch verify, audited) instead of against enrolment videos."),
    model: Optional[Path] = ModelOpt,
    operating_point: str = PointOpt,
    modalities: Optional[str] = ModalitiesOpt,
) -> None:
    """Score a trial list in one process, deciding as verify (with --store) or compare does:
    each video goes through the pipeline once. The score is the decision's LLR (fused where
    other modalities decided). With labels, prints the EER with its trial counts. Trials whose
    video fails are recorded, not fatal."""
    from lipauth.batch import (
        clip_videos,
        read_trial_list,
        score_trials,
        write_bob_scores,
    )
    from lipauth.scoring.points import check_point_for_modalities, parse_modalities

    trial_list = read_trial_list(trials)
    point = _early_checks(model, operating_point)
    chosen = parse_modalities(modalities)
    if isinstance(point, float) and chosen is None:
        chosen = ("lips",)
    check_point_for_modalities(point, chosen)
    videos = [t.probe for t in trial_list] + ([] if store else [t.enrol for t in trial_list])
    if store:
        verifier = _verifier(store, model, operating_point, modalities=",".join(chosen) if chosen else None)
        m, modal = verifier.model, verifier.modal
    else:
        from lipauth.api import load_model
        from lipauth.auth.compare import compare as compare_clips
        from lipauth.auth.modalities import ModalityScorer

        m = load_model(model)
        modal = ModalityScorer(chosen, m.embedder.fusion)
    with _progress("process") as bar:
        clips = clip_videos(m, videos, audio=modal.needs_audio, face_chips=modal.face_chips, on_progress=bar)

    def decide(enrol: str, probe):
        if store:
            return verifier.verify(enrol, probe)
        first = clips.clips.get(enrol)
        if first is None:
            raise InvalidInputError(f"enrolment video failed: {clips.failures.get(enrol, 'not processed')}")
        return compare_clips(m, first, probe, operating_point=point, modalities=modal.modalities)

    scored = score_trials(trial_list, clips, decide)
    deciding = "+".join(modal.modalities)
    header = [f"lipauth score: model {m.id}, {'verify against ' + str(store) if store else 'compare with the enrolment video'}, operating point {operating_point}, deciding on {deciding}",
              "score: the decision's log-likelihood ratio (the lips' cosine where the model carries no calibration)"]
    write_bob_scores(out, scored, header)
    ok = [r for r in scored if r.score is not None]
    console.print(f"{len(ok)} of {len(scored)} trials scored, written to {out}", highlight=False)
    for r in scored:
        if r.error:
            err_console.print(f"[yellow]not scored[/yellow] {r.trial.enrol} {r.trial.probe}: {r.error}", highlight=False)
    if ok and ok[0].trial.target is not None:
        _print_trial_metrics(ok)
    if not ok:
        raise typer.Exit(EXIT_ERROR)


def _print_trial_metrics(scored) -> None:
    import numpy as np

    from lipauth.measure.metrics import bootstrap_eer_ci, eer

    s = np.array([r.score for r in scored])
    g = np.array([r.trial.target for r in scored], bool)
    if g.all() or not g.any():
        console.print("EER needs both target and nontarget trials", highlight=False)
        return
    rate, _ = eer(s, g)
    enrol = [r.trial.enrol for r in scored]
    lo, hi = bootstrap_eer_ci(s, g, enrol, enrol, n_boot=500)
    accepted = np.array([r.accepted for r in scored], bool)
    console.print(
        f"EER {100 * rate:.2f} % (95 % CI {100 * lo:.2f}–{100 * hi:.2f}, bootstrap over the {len(set(enrol))} enrolment sides) on {g.sum()} target / {(~g).sum()} nontarget trials; "
        f"at the operating point: FNMR {100 * (~accepted[g]).mean():.2f} %, FMR {100 * accepted[~g].mean():.2f} %",
        highlight=False,
    )


@app.command("check-sync")
@handle_errors
def check_sync(
    video: Path = typer.Argument(..., help="A talking-face video with an audio track."),
    sync_model: Optional[Path] = typer.Option(None, "--sync-model", help="AV-synchrony model (default: the bundled one)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Does the audio fit the mouth? SyncNet's outputs: best offset, confidence, sync score.
    Exit 0 in sync, 1 out of sync, 2 error."""
    import json

    from lipauth.api import load_model
    from lipauth.pad.checks import NOT_RUN, create_check

    check = create_check("av_sync", sync_model)  # the same check `verify --liveness` runs
    clip = load_model().clip(video)
    r = check.run(clip)
    if r.status == NOT_RUN:
        raise InvalidInputError(f"{video}: {r.detail}")
    if as_json:
        print(json.dumps({"video": str(video), "in_sync": r.passed, "threshold": r.threshold, "score": r.score, "detail": r.detail, **r.extra}))
    else:
        verdict = "[green]IN SYNC[/green]" if r.passed else "[red]OUT OF SYNC[/red]"
        offset = r.extra.get("best_offset")
        where = f"; best audio offset {offset:+d} frames ({1000 * offset / clip.fps:+.0f} ms), confidence {r.extra['confidence']:.3f}" if offset is not None else f"; {r.detail}"
        console.print(f"{verdict} {video.name}: sync score {r.score:.2f} (threshold {r.threshold:.2f}){where}", highlight=False)
    raise typer.Exit(0 if r.passed else 1)


@app.command()
@handle_errors
def serve(
    store: Optional[str] = StoreOpt,
    model: Optional[Path] = ModelOpt,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    operating_point: str = PointOpt,
    scoring: Optional[str] = ScoringOpt,
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="Largest accepted upload."),
    require_challenge: bool = typer.Option(False, "--require-challenge", help="Verify only answers to a spoken challenge (POST /v1/challenges): replayed recordings cannot answer."),
    max_failures: int = MaxFailuresOpt,
    cooldown: float = CooldownOpt,
    max_waiting: int = typer.Option(8, "--max-waiting", min=0, help="Heavy requests (enrol, verify, identify) run one at a time; this many may wait, the rest get 503 + Retry-After."),
    wait: float = typer.Option(60.0, "--wait", help="Seconds a heavy request may wait for its turn before it gets 503."),
    timeout: float = typer.Option(120.0, "--timeout", min=0.0, help="Seconds from a heavy request's arrival to its answer; past them it gets 503 (timed_out). 0: no deadline."),
    modalities: Optional[str] = ModalitiesOpt,
    allowed_origin: Optional[list[str]] = typer.Option(None, "--allowed-origin", help="Another site whose pages may call the service (e.g. https://login.example.com); repeatable. Other origins are refused."),
    login_rate: str = typer.Option("10/minute", "--login-rate", help="Logins one client address may start on the public endpoint (e.g. 10/minute)."),
) -> None:
    """Run the REST service (API key from LIPAUTH_API_KEY; docs at /docs; the login page at /)."""
    import os

    import uvicorn

    from lipauth.service.app import create_app, login_rate_limit

    api_key = os.environ.get("LIPAUTH_API_KEY", "")
    if not api_key:
        raise InvalidInputError("the service needs an API key (set LIPAUTH_API_KEY)")
    login_rate_limit(login_rate)
    # the service enrols users, so it may create the store, as `enroll` does
    app_ = create_app(_verifier(store, model, operating_point, scoring, create=True, attempts=(max_failures, cooldown), modalities=modalities), api_key=api_key, max_waiting=max_waiting, wait_s=wait, timeout_s=timeout or None, max_upload_bytes=int(max_upload_mb * (1 << 20)), require_challenge=require_challenge, allowed_origins=tuple(allowed_origin or ()), login_rate=login_rate)
    uvicorn.run(app_, host=host, port=port, log_level="info")


@app.command()
def keygen() -> None:
    """Print a new store key (for LIPAUTH_STORE_KEY)."""
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())


@app.command()
@handle_errors
def demo(
    data: Optional[Path] = typer.Option(None, "--data", help="Run on real data instead: a folder holding avletters/ (e.g. ../shared/data)."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where to write everything."),
    epochs: int = typer.Option(6, "--epochs", min=1),
) -> None:
    """The whole story: corpus -> preprocess -> train -> evaluate (DET) -> enrol -> verify."""
    import time

    from lipauth.demo import run_demo

    start = time.perf_counter()
    r = run_demo(out, data, epochs=epochs, progress=lambda step, text: console.rule(f"[bold]{step}[/bold]  {text}", align="left"))
    m = r["metrics"]
    table = Table(title=f"lipauth demo ({'real data: ' + str(data) if data else 'synthetic corpus'}), {time.perf_counter() - start:.0f} s")
    table.add_column("step")
    table.add_column("result")
    table.add_row("preprocess", f"{r['clips']} clips, FTA {100 * r['fta_rate']:.1f} %")
    table.add_row("train", f"best validation EER {100 * r['val_eer']:.2f} %")
    for kind in ("text_independent", "text_dependent"):
        if f"eer_{kind}" in m:
            ci = m.get(f"eer_{kind}_ci95")
            ci_txt = f"95 % CI {100 * ci[0]:.2f}–{100 * ci[1]:.2f}" if ci else f"no CI from {m['n_speakers']} speakers"
            table.add_row(f"test EER, {kind.replace('_', '-')}", f"{100 * m[f'eer_{kind}']:.2f} % ({ci_txt}; {m[f'n_genuine_{kind}']} genuine / {m[f'n_impostor_{kind}']} impostor trials)")
    for label, d, who in (("genuine attempt", r["genuine"], r["claimed"]), ("impostor attempt", r["impostor"], r["impostor_speaker"])):
        verdict = "[green]accepted[/green]" if d.accepted else "[red]rejected[/red]"
        table.add_row(label, f"{who} claims {r['claimed']}: score {d.score:.3f} vs threshold {d.threshold:.3f} → {verdict}")
    table.add_row("pictures", f"{r['out'] / 'eval' / 'det.png'}, {r['out'] / 'eval' / 'hist.png'}")
    console.print(table)
