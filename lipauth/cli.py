"""The `lipauth` command (Typer + Rich). Library errors become one-line messages and exit 2."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lipauth.errors import InvalidInputError, LipauthError, UnknownUserError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None, help="Lip-based biometric authentication.")


def _version(value: bool) -> None:
    if value:
        from lipauth import __version__

        print(f"lipauth {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print lipauth's version and exit.")) -> None:
    """Lip-based biometric authentication."""
# soft_wrap: lines are not broken at 80 columns when the output is a file or a pipe (a
# terminal wraps long lines itself)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

EXIT_ERROR = 2


def handle_errors(fn):
    """Turn a LipauthError into `error: <message>` on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LipauthError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper


def _pipeline_config(backend: str, size: str, color: str):
    from lipauth.video.pipeline import PipelineConfig
    from lipauth.clip import CropSpec

    w, h = CropSpec.parse_size(size)
    return PipelineConfig(backend=backend, crop=CropSpec(width=w, height=h, color=color))


BackendOpt = typer.Option("dlib", "--backend", help="Landmark backend: dlib (68-point) or mediapipe (FaceMesh).")
SizeOpt = typer.Option("30x18", "--size", help="Crop size WIDTHxHEIGHT (WhisperNet v2: 30x18; AVLetters framing: 80x60).")
ColorOpt = typer.Option("grey", "--color", help="grey or rgb crops.")


@app.command()
@handle_errors
def preprocess(
    src: Path = typer.Argument(..., help="Corpus folder."),
    out: Path = typer.Argument(..., help="Output folder (clips/*.npz, manifest.csv)."),
    corpus: str = typer.Option(..., "--corpus", help="crema-d, grid, avletters or folder (speaker/clip.ext)."),
    backend: str = BackendOpt,
    size: str = SizeOpt,
    color: str = ColorOpt,
    workers: int = typer.Option(1, "--workers", min=1, help="Parallel processes."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Try again the clips that failed in an earlier run."),
    dask: Optional[str] = typer.Option(None, "--dask", help="Run the clips on a Dask cluster: its scheduler (tcp://host:8786), or local:N for N worker processes here. OUT must be a folder every worker can write."),
) -> None:
    """Turn a corpus into cached lip clips. Resumable; failures are recorded, not fatal."""
    from lipauth.corpora.preprocess import preprocess_corpus

    config = _pipeline_config(backend, size, color)
    summary = _run_preprocess(preprocess_corpus, src, out, corpus, config, workers, retry_failed, dask=dask)
    _print_summary(summary)
    if summary.total and summary.n_failed == summary.total:
        raise typer.Exit(EXIT_ERROR)


def _run_preprocess(fn, src, out, corpus, config, workers, retry_failed, **options):
    columns = [TextColumn("[bold]preprocess"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("clips", total=None, failed=0)
        failed = 0

        def on_progress(done: int, total: int, row: dict) -> None:
            nonlocal failed
            failed += row.get("status") == "failed"
            progress.update(task, completed=done, total=total, failed=failed)

        return fn(src, out, corpus, config, workers=workers, retry_failed=retry_failed, on_progress=on_progress, **options)


def _print_summary(summary) -> None:
    table = Table(title=f"preprocess → {summary.out}", show_header=False)
    table.add_row("clips in corpus", str(summary.total))
    table.add_row("done now", str(summary.done))
    table.add_row("already done (skipped)", str(summary.skipped))
    table.add_row("failed", str(summary.n_failed))
    for code, n in sorted(summary.failed.items()):
        table.add_row(f"  {code}", str(n))
    table.add_row("FTA rate (%)", f"{100 * summary.fta_rate:.1f}")
    table.add_row("time (s)", f"{summary.seconds:.1f}")
    console.print(table)
    for row in summary.failures[:10]:
        console.print(f"  [yellow]{row['clip_id']}[/yellow]: {row['error']}", highlight=False, soft_wrap=True)
    if len(summary.failures) > 10:
        console.print(f"  … {len(summary.failures) - 10} more in {summary.out / 'manifest.csv'}")


@app.command()
@handle_errors
def inspect(
    video: Path = typer.Argument(..., help="A face video."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    backend: str = BackendOpt,
    size: str = SizeOpt,
    color: str = ColorOpt,
    frames: int = typer.Option(8, "--frames", min=1, help="How many frames to show."),
) -> None:
    """Contact sheet: frames with lip landmarks and crop box, next to the resulting crops."""
    _inspect(video, out, _pipeline_config(backend, size, color), frames)


def _inspect(video: Path, out: Path, config, frames: int) -> None:
    from lipauth.video.inspect import contact_sheet
    from lipauth.video.pipeline import LipPipeline

    clip, trace = LipPipeline(config).process_traced(video)
    contact_sheet(clip, trace, out, n=frames)
    console.print(f"{video}: {clip.n_frames} frames, {int(trace.track.detected.sum())} detections, {int(trace.missing.sum())} interpolated → {out}", highlight=False)


def _overrides(epochs: Optional[int], seed: Optional[int], ensemble: Optional[int] = None) -> dict:
    o: dict = {}
    train = {k: v for k, v in (("epochs", epochs), ("ensemble", ensemble)) if v is not None}
    if train:
        o["train"] = train
    if seed is not None:
        o["seed"] = seed
    return o


EnsembleOpt = typer.Option(None, "--ensemble", min=1, help="Override the config's train.ensemble: how many networks (seeds S, S+1, ...) the model averages.")


@app.command()
@handle_errors
def train(
    config: Path = typer.Option(..., "--config", help="Recipe YAML (see configs/): its `kind` says what it trains (lip_embedding, av_sync, face_liveness)."),
    data: Path = typer.Option(..., "--data", help="Corpus folder, or a folder made by `lipauth preprocess`; for av_sync and face_liveness the data root (../shared/data)."),
    out: Path = typer.Option(..., "--out", help="Run folder: the model file, its metrics and config."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="For lip_embedding recipes: crema-d, grid, avletters or folder."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the config's epochs."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the config's seed."),
    ensemble: Optional[int] = EnsembleOpt,
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/checkpoint.pt (lip_embedding)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes for preprocessing video corpora."),
) -> None:
    """Train a model from a recipe: a lip embedding (metric learning; best checkpoint by
    validation EER), the AV-synchrony model or the face-liveness model."""
    from lipauth.recipes import LIP, read_recipe, recipe_kind, run_recipe

    raw = read_recipe(config)
    if recipe_kind(raw) != LIP:
        if resume or ensemble is not None or corpus is not None:
            raise InvalidInputError(f"{config}: --resume, --ensemble and --corpus are lip_embedding settings")
        if epochs is not None:
            raw.setdefault("train", {})["epochs"] = epochs
        if seed is not None:
            raw["seed"] = seed
        made = run_recipe(raw, data, out, where=str(config))
        console.print(made["report"]["table"], highlight=False, soft_wrap=True)
        console.print(f"→ {made['model']}", highlight=False)
        return
    if corpus is None:
        raise InvalidInputError("--corpus is needed for a lip_embedding recipe (crema-d, grid, avletters, folder, lipcrops)")
    from lipauth.training.config import load_config
    from lipauth.training.trainer import train as run_training

    cfg = load_config(config, _overrides(epochs, seed, ensemble))
    dataset = _load(cfg, data, corpus, out / "cache", workers)
    summary = run_training(cfg, dataset, out, resume=resume)
    if summary:
        console.print(f"{training_outcome(summary)} → {out / 'model.pt'}", highlight=False)


def training_outcome(summary: dict) -> str:
    """One line on what `train` made: one network or an ensemble, refit or not."""
    refit = summary.get("refit")
    then = f"; retrained on all {len(refit['speakers'])} speakers for {refit['epochs']} epochs" if refit else ""
    if "ensemble" in summary:
        ens = summary["ensemble"]
        val = f"validation EER {100 * ens['val_eer']:.2f} %, " if "val_eer" in ens else ""
        return f"ensemble of {len(ens['seeds'])} (seeds {ens['seeds']}): {val}members' best epochs {ens['best_epochs']}{then}"
    return f"best validation EER {100 * summary['best_val_eer']:.2f} % at epoch {summary['best_epoch']}{then}"


def _load(cfg, data: Path, corpus: str, cache: Path, workers: int):
    from lipauth.corpora.dataset import load_dataset
    from lipauth.clip import CropSpec

    return load_dataset(data, corpus, CropSpec(**cfg.data.crop), backend=cfg.data.backend, cache=cache, workers=workers)


@app.command()
@handle_errors
def evaluate(
    model: Path = typer.Option(..., "--model", help="model.pt made by `lipauth train`."),
    data: Path = typer.Option(..., "--data", help="Corpus folder (all its speakers are treated as unseen)."),
    corpus: str = typer.Option(..., "--corpus", help="crema-d, grid, avletters or folder."),
    out: Path = typer.Option(..., "--out", help="Evaluation folder: metrics.json, scores.csv, det.png, report.md."),
    bootstrap: int = typer.Option(500, "--bootstrap", min=0, help="Bootstrap resamples for the EER's 95 % CI."),
    workers: int = typer.Option(1, "--workers", min=1),
) -> None:
    """EER (+ CI), FNMR @ FMR, minDCF, and FMR/FNMR/HTER at the model's validation threshold."""
    from lipauth.corpora.dataset import load_dataset
    from lipauth.eval.evaluate import evaluate_clips
    from lipauth.models.embedder import LipEmbedder

    embedder = LipEmbedder.load(model)
    dataset = load_dataset(data, corpus, embedder.crop, backend=embedder.backend, cache=out / "cache", workers=workers)
    evaluate_clips(embedder, dataset.clips, out, n_boot=bootstrap, n_failed=len(dataset.failures), title=f"{embedder.model_name} on {data.name}")
    console.print((out / "report.md").read_text(), highlight=False)
    console.print(f"→ {out / 'metrics.json'}", highlight=False)


@app.command()
@handle_errors
def crossval(
    config: Path = typer.Option(..., "--config", help="Experiment YAML."),
    data: Path = typer.Option(..., "--data"),
    corpus: str = typer.Option(..., "--corpus"),
    out: Path = typer.Option(..., "--out"),
    folds: int = typer.Option(3, "--folds", help="Speaker folds; each tested once, never trained on."),
    val_speakers: int = typer.Option(0, "--val-speakers", help="Validation speakers per fold (0: fixed epochs)."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    seed: Optional[int] = typer.Option(None, "--seed"),
    ensemble: Optional[int] = EnsembleOpt,
    leave_out: int = typer.Option(0, "--leave-out", help="Test every group of this many speakers once instead of --folds (2: all pairs)."),
) -> None:
    """Cross-validation by speaker; pooled EER with a bootstrap CI over speakers."""
    from lipauth.training.config import load_config
    from lipauth.training.crossval import crossval as run_crossval

    cfg = load_config(config, _overrides(epochs, seed, ensemble))
    dataset = _load(cfg, data, corpus, out / "cache", 1)
    # folds from the split's seed, training from --seed: runs with other seeds are comparable
    r = run_crossval(cfg, dataset, out, folds=folds, n_val=val_speakers, seed=cfg.split.seed, leave_out=leave_out)
    how = f"leave-{leave_out}-speakers-out ({r.n_folds} folds)" if leave_out else f"{folds}-fold"
    table = Table(title=f"{cfg.model.name}: {how} cross-validation by speaker")
    for col in ("trials", "genuine", "impostor", "pooled EER (%)", "95 % CI (%)", "mean fold EER (%)"):
        table.add_column(col)
    for kind, p in r.pooled.items():
        ci = f"{100 * p.eer_ci95[0]:.2f}–{100 * p.eer_ci95[1]:.2f}" if p.eer_ci95 else "n/a (< 3 speakers)"
        table.add_row(kind, str(p.n_genuine), str(p.n_impostor), f"{100 * p.eer:.2f}", ci, f"{100 * r.fold_mean_eer[kind]:.2f}")
    console.print(table)


StoreOpt = typer.Option(None, "--store", help="Template store: a SQLite file path or an SQLAlchemy URL (default: $LIPAUTH_STORE or ~/.lipauth/templates.db).")
ModelOpt = typer.Option(None, "--model", help="Model file (default: the model bundled with lipauth).")
PointOpt = typer.Option("eer", "--operating-point", help="eer, fmr_1pct, fmr_0.1pct, or a cosine threshold.")
ScoringOpt = typer.Option(None, "--scoring", help="raw or normalised (default: what the model recommends).")
MaxFailuresOpt = typer.Option(5, "--max-failures", help="Failed verifications of a user within --cooldown seconds that lock them for --cooldown seconds (counted in the store, shared by every process).")
CooldownOpt = typer.Option(900.0, "--cooldown", help="Seconds: the window failures are counted in, and the lock after --max-failures.")
ModalitiesOpt = typer.Option(None, "--modalities", help="lips, or lips with voice and/or face, comma-separated (default: all the model's fusion rules cover, lips+voice+face for the bundled model; the lips alone for a model without rules).")


def _verifier(store: Optional[str], model: Optional[Path], operating_point: str = "eer", scoring: Optional[str] = None, videos=(), create: bool = False, attempts=None, modalities: Optional[str] = None):
    """The Verifier, once the arguments alone are known to be usable: a wrong operating point,
    scoring, modality, model path, video path or store fails here in milliseconds, before the
    models load. Only `create` (enrolment) makes a store that does not exist yet."""
    from lipauth.scoring.points import parse_modalities, parse_scoring

    point = _early_checks(model, operating_point, videos)
    scoring = parse_scoring(scoring)
    chosen = parse_modalities(modalities)
    limits = _attempt_policy(*attempts) if attempts else None
    opened = _store(store, create=create)
    limiter = None
    if limits is not None:
        from lipauth.auth.attempts import AttemptLimiter

        limiter = AttemptLimiter(opened, limits)
    from lipauth.api import load_model
    from lipauth.auth.audit import AuditLog
    from lipauth.auth.verifier import Verifier

    return Verifier(load_model(model), opened, operating_point=point, scoring=scoring, attempts=limiter, audit=AuditLog(opened), client=_cli_client(), modalities=chosen)


def _cli_client() -> str:
    """The audit trail's name for a command-line caller."""
    import getpass

    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no user name for this uid (a container)
        import os

        return f"cli (uid {os.getuid()})"


def _attempt_policy(max_failures: int, cooldown: float):
    from lipauth.auth.attempts import AttemptPolicy

    return AttemptPolicy(max_failures=max_failures, window_s=cooldown, cooldown_s=cooldown)


def _store(location: Optional[str], create: bool = False):
    from lipauth.auth.store import TemplateStore

    store = TemplateStore(location, create=create)
    if store.created:
        err_console.print(f"created the template store {store.location}", highlight=False)
    if store.key_created:
        err_console.print(f"[yellow]its key is {store.key_created}: back it up; without it the templates cannot be read[/yellow]", highlight=False)
    return store


@app.command()
@handle_errors
def enroll(
    user: str = typer.Argument(..., help="User id."),
    videos: list[Path] = typer.Argument(..., help="Enrolment clips of the user speaking."),
    store: Optional[str] = StoreOpt,
    model: Optional[Path] = ModelOpt,
    passphrase: Optional[str] = typer.Option(None, "--passphrase", help="A typed second factor every verify of this user must then give (kept only as a salted scrypt hash)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an enrolled user's clips with these."),
    add: bool = typer.Option(False, "--add", help="Add these clips to an enrolled user (the template is recomputed from all)."),
    modalities: Optional[str] = ModalitiesOpt,
) -> None:
    """Enrol a user from several clips (all must acquire and agree with each other, or nothing
    is stored). An enrolled id is refused unless --replace or --add. Creates the store if
    there is none."""
    if replace and add:
        raise InvalidInputError("--replace and --add exclude each other")
    mode = "replace" if replace else "add" if add else "new"
    template = _verifier(store, model, videos=videos, create=mode == "new", modalities=modalities).enroll(user, videos, passphrase=passphrase, mode=mode)
    done = {"new": "enrolled", "replace": "re-enrolled", "add": "added clips to"}[mode]
    others = "".join(f", {len(v)} with {m}" for m, v in template.modalities.items())
    console.print(f"{done} {user!r}: {len(template.embeddings)} clips in the template{others}", highlight=False)
    if template.weak:
        err_console.print(f"[yellow]weak enrolment[/yellow]: {template.weak}", highlight=False)


@app.command()
def verify(
    user: str = typer.Argument(...),
    video: Path = typer.Argument(...),
    store: Optional[str] = StoreOpt,
    model: Optional[Path] = ModelOpt,
    operating_point: str = PointOpt,
    scoring: Optional[str] = ScoringOpt,
    liveness: bool = typer.Option(False, "--liveness", help="Also run the presentation-attack checks: AV synchrony (if the video has audio), face liveness and motion (a still, frozen or moved-photo video fails)."),
    require_audio: bool = typer.Option(False, "--require-audio", help="With --liveness: reject a video without an audio track instead of skipping AV synchrony."),
    phrase: Optional[str] = typer.Option(None, "--phrase", help="A spoken challenge the video must answer (six words of the GRID grammar, e.g. from `lipauth challenge`); implies --liveness --require-audio."),
    challenge: Optional[str] = typer.Option(None, "--challenge", help="The id of a challenge from `lipauth challenge`: its phrase must be spoken; it is used up by this attempt."),
    passphrase: Optional[str] = typer.Option(None, "--passphrase", help="The passphrase the user enrolled, if they did (required then)."),
    max_failures: int = MaxFailuresOpt,
    cooldown: float = CooldownOpt,
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON."),
    modalities: Optional[str] = ModalitiesOpt,
) -> None:
    """Verify a claimed identity. Exit 0 accept, 1 reject, 2 error (also while the user is
    locked after too many failed attempts)."""
    import json

    try:
        if require_audio and not liveness:
            raise InvalidInputError("--require-audio is a liveness setting: add --liveness")
        if phrase is not None and challenge is not None:
            raise InvalidInputError("give --phrase or --challenge, not both")
        if phrase is not None:  # a phrase outside the grammar fails here, before the models load
            from lipauth.pad.challenge_phrases import normalise

            normalise(phrase)
        verifier = _verifier(store, model, operating_point, scoring, videos=[video], attempts=(max_failures, cooldown), modalities=modalities)
        decision = verifier.verify(user, video, passphrase=passphrase, liveness=liveness, require_audio=require_audio, phrase=phrase, challenge=challenge)
    except LipauthError as exc:
        _fail(exc, as_json, user=user)
    if as_json:
        print(json.dumps(decision.to_dict()))
    else:
        from lipauth.auth.present import headline, notes

        line = headline(decision)
        colour = "green" if decision.accepted else "red"
        console.print(f"[{colour}]{line[:6]}[/{colour}]{escape(line[6:])}", highlight=False)
        _print_checks(decision.checks)
        for note in notes(decision):
            console.print(f"  [yellow]note[/yellow] {escape(note)}", highlight=False)
    raise typer.Exit(0 if decision.accepted else 1)


@app.command()
@handle_errors
def identify(
    video: Path = typer.Argument(...),
    store: Optional[str] = StoreOpt,
    model: Optional[Path] = ModelOpt,
    k: int = typer.Option(5, "-k", min=1, help="How many candidates to list."),
    as_json: bool = typer.Option(False, "--json"),
    modalities: Optional[str] = ModalitiesOpt,
) -> None:
    """Search the enrolled users (1:N) for the speaker of VIDEO."""
    import json

    v = _verifier(store, model, videos=[video], modalities=modalities)
    found = v.identify(video, k)
    code = 0 if any(c.accepted for c in found) else 1  # as verify: 1 when nobody enrolled matches
    if as_json:
        print(json.dumps({"candidates": [c.to_dict() for c in found], "policy": v.policy.describe()}))
        raise typer.Exit(code)
    fused = any(c.fused for c in found)
    table = Table(title=f"identify {video.name} ({v.operating_point}, {v.scoring} scoring{', fused ' + '+'.join(v.modal.modalities) if fused else ''})")
    for col in ("rank", "user", "lip score", "threshold", *(("fused LLR", "LLR threshold") if fused else ()), "match"):
        table.add_column(col)
    for i, c in enumerate(found, 1):
        llr = (f"{c.llr:+.2f}", f"{c.llr_threshold:+.2f}") if c.fused else ("–", "–") if fused else ()
        table.add_row(str(i), c.user, f"{c.score:.3f}", f"{c.threshold:.3f}", *llr, "yes" if c.accepted else "")
    console.print(table)
    if code:
        console.print("nobody enrolled matches", highlight=False)
    raise typer.Exit(code)


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
    from lipauth.batch import clip_videos, read_trial_list, score_trials, write_bob_scores
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


@app.command()
@handle_errors
def calibrate(
    data: Path = typer.Argument(..., help="Labelled recordings: a folder person/clip.ext (or a corpus, see --corpus)."),
    out: Path = typer.Option(..., "--out", help="The new model file."),
    model: Optional[Path] = ModelOpt,
    corpus: str = typer.Option("folder", "--corpus", help="How DATA is laid out: folder (person/clip.ext), grid, crema-d, avletters."),
) -> None:
    """Fit the thresholds and the LLR calibration on your own labelled recordings (your camera,
    your people) into a new model file; the network is unchanged."""
    if not data.is_dir():
        raise InvalidInputError(f"{data}: not a directory")
    if out.exists():
        raise InvalidInputError(f"{out}: exists; choose a new file (the model you start from stays as it is)")
    _early_checks(model, "eer")
    from lipauth.api import load_model
    from lipauth.recalibrate import recalibrate

    with _progress("calibrate") as bar:
        r = recalibrate(load_model(model), data, out, corpus=corpus, on_progress=bar)
    for path, why in r.failures.items():
        err_console.print(f"[yellow]failed[/yellow] {path}: {why}", highlight=False)
    table = Table(title=f"thresholds (probe against a {r.after.get('n_enrol', '?')}-clip template) refitted on {r.n_people} people, {r.n_clips} clips ({r.n_genuine} genuine / {r.n_impostor} impostor clip pairs)")
    for col in ("operating point", "before", "after"):
        table.add_column(col)
    for k in ("eer", "fmr_1pct", "fmr_0.1pct"):
        table.add_row(f"{k} (raw)", _fmt(r.before.get(k)), _fmt(r.after.get(k)))
        table.add_row(f"{k} (normalised)", _fmt((r.before.get("normalised") or {}).get(k)), _fmt((r.after.get("normalised") or {}).get(k)))
    console.print(table)
    if r.fused is not None:
        f = r.fused
        table = Table(title=f"the fused decision ({' + '.join(f['modalities'])}): LLR thresholds refitted on the same clip pairs")
        for col in ("operating point", "before", "after"):
            table.add_column(col)
        for k in ("eer", "fmr_1pct", "fmr_0.1pct"):
            table.add_row(k, _fmt(f["before"].get(k)), _fmt(f["after"].get(k)))
            table.add_row(f"{k} (this user's own level +)", _fmt(f["normalised_before"].get(k)), _fmt(f["normalised_after"].get(k)))
        console.print(table)
    for point, needed in (("fmr_1pct", 100), ("fmr_0.1pct", 1000)):
        if r.n_impostor < needed:
            console.print(f"[yellow]note[/yellow] {point} rests on {r.n_impostor} impostor pairs (it needs {needed} or more to be measured): here it is the highest impostor score", highlight=False)
    console.print(f"written {r.out}; use it with --model {r.out} (the same network: users enrolled before verify with it)", highlight=False)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _early_checks(model: Optional[Path], operating_point: str, videos=()):
    """The operating point, model path and video paths, checked in milliseconds before any
    model loads (`_verifier` adds the scoring and the store)."""
    from lipauth.errors import VideoDecodeError
    from lipauth.scoring.points import parse_operating_point

    point = parse_operating_point(operating_point)
    if model is not None and not Path(model).is_file():
        raise InvalidInputError(f"{model}: no such model file")
    for v in videos:
        if not Path(v).is_file():
            raise VideoDecodeError(f"{v}: no such file")  # what decoding would say, seconds later
    return point


def _print_checks(checks) -> None:
    for c in checks:
        mark = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        on = f" on {Path(c.extra['video']).name}" if "video" in c.extra else ""
        console.print(f"  {mark} {c.name}{on}: {c.score:.3f} (threshold {c.threshold:.3f}; {c.detail})", highlight=False)


def _fail(exc: LipauthError, as_json: bool, **context):
    """An error as the command's last word: JSON on stdout with --json, else a line on stderr; exit 2."""
    import json

    if as_json:
        print(json.dumps({**context, "error": exc.code, "detail": str(exc)}))
    else:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_ERROR) from None


class _progress:
    """A progress bar on stderr; calling it with (done, total) advances it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err_console)

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task(self.what, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)


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


@app.command("challenge")
@handle_errors
def challenge_cmd(
    user: Optional[str] = typer.Argument(None, help="The user who must answer it (default: anyone)."),
    store: Optional[str] = StoreOpt,
    ttl: float = typer.Option(120.0, "--ttl", help="Seconds until it expires."),
    as_json: bool = typer.Option(False, "--json", help="Print the challenge as JSON."),
) -> None:
    """Issue a one-time spoken challenge: a phrase to say on camera, answered with
    `lipauth verify USER VIDEO --challenge ID`."""
    import json

    from lipauth.auth.audit import AuditLog, Origin, audited
    from lipauth.auth.challenges import ChallengeBook

    opened = _store(store)
    with audited(AuditLog(opened), "challenge", user, Origin(_cli_client()), None) as rec:
        c = ChallengeBook(opened).issue(user, ttl_s=ttl)
        rec.done("issued", challenge_id=c.challenge_id)
    if as_json:
        print(json.dumps(c.to_dict()))
    else:
        console.print(f"say: [bold]{c.phrase}[/bold]\nchallenge id: {c.challenge_id} (expires {c.to_dict()['expires_at']})", highlight=False)


@app.command("enrol-token")
@handle_errors
def enrol_token_cmd(
    user: str = typer.Argument(..., help="The user the token lets the login page enrol."),
    store: Optional[str] = StoreOpt,
    mode: str = typer.Option("new", "--mode", help="new (the user must not be enrolled), replace, or add clips."),
    ttl: float = typer.Option(900.0, "--ttl", help="Seconds until it expires."),
    as_json: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Issue a one-time token with which the login page enrols USER (the page never holds
    the service's API key). Give it to the person; only its hash is stored."""
    import json

    from lipauth.auth.audit import AuditLog, Origin, audited
    from lipauth.auth.tokens import TokenBook

    opened = _store(store, create=True)  # the first user may be enrolled from the page
    with audited(AuditLog(opened), "token", user, Origin(_cli_client()), None) as rec:
        if mode == "new":
            opened.refuse_enrolled(user)
        t = TokenBook(opened).issue("enrol", user, ttl_s=ttl, mode=mode)
        rec.done("issued", scope="enrol", mode=mode)
    if as_json:
        print(json.dumps(t.to_dict()))
    else:
        console.print(f"enrol token for {user!r} ({mode}, expires {t.to_dict()['expires_at']}):\n{t.token}", highlight=False)


users_app = typer.Typer(help="List, unlock or delete enrolled users.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("list")
@handle_errors
def users_list(store: Optional[str] = StoreOpt, as_json: bool = typer.Option(False, "--json", help="Print the users as JSON.")) -> None:
    import json

    rows = _store(store).users()
    if as_json:
        print(json.dumps({"users": rows}))
        return
    table = Table(title=f"{len(rows)} enrolled users")
    for col in ("user", "clips", "enrolled", "updated"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["user_id"], str(r["n_clips"]), r["created_at"], r["updated_at"])
    console.print(table)


@users_app.command("unlock")
@handle_errors
def users_unlock(user: str = typer.Argument(..., help="The enrolled user to unlock."), store: Optional[str] = StoreOpt) -> None:
    """Clear a user's failed attempts and end their cool-down (an audit row says who did)."""
    from lipauth.auth.attempts import AttemptLimiter
    from lipauth.auth.audit import AuditLog, Origin, audited

    opened = _store(store)
    with audited(AuditLog(opened), "unlock", user, Origin(_cli_client()), None) as rec:
        if user not in opened:
            raise UnknownUserError(f"no user {user!r} is enrolled")
        had = AttemptLimiter(opened).clear(user)
        rec.done("unlocked" if had else "nothing_to_clear")
    console.print(f"cleared the failed attempts of {user!r}" if had else f"{user!r} had no failed attempts", highlight=False)


@users_app.command("delete")
@handle_errors
def users_delete(user: str = typer.Argument(...), store: Optional[str] = StoreOpt) -> None:
    from lipauth.auth.audit import AuditLog, Origin, audited

    opened = _store(store)
    with audited(AuditLog(opened), "delete", user, Origin(_cli_client()), None) as rec:
        opened.delete(user)
        rec.done("deleted")
    console.print(f"deleted {user!r} and their templates", highlight=False)


@app.command()
@handle_errors
def audit(
    store: Optional[str] = StoreOpt,
    user: Optional[str] = typer.Option(None, "--user", help="Only this claimed user."),
    event: Optional[str] = typer.Option(None, "--event", help="Only enrol (or enroll), verify, identify, delete, challenge, token or unlock."),
    outcome: Optional[str] = typer.Option(None, "--outcome", help="Only this outcome: accepted, rejected, enrolled, ..., or an error code such as too_many_attempts."),
    since: Optional[str] = typer.Option(None, "--since", help="Only from this time on (ISO 8601, UTC unless it says: 2026-11-28 or 2026-11-28T14:00)."),
    limit: int = typer.Option(50, "--limit", min=1, max=100000, help="At most this many rows, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON lines."),
) -> None:
    """Show the audit trail: who tried to enrol, verify, identify or delete whom, when, and what came of it."""
    from datetime import datetime, timezone

    from lipauth.auth.audit import AuditLog, parse_event

    event = parse_event(event)  # before the store opens
    start = None
    if since is not None:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            raise InvalidInputError(f"--since must be an ISO 8601 date or time, got {since!r}") from None
        start = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    rows = AuditLog(_store(store)).entries(user_id=user, event=event, outcome=outcome, since=start, limit=limit)
    if as_json:
        import json

        for r in rows:
            print(json.dumps(r.to_dict(), default=float))
        return
    table = Table(title=f"audit trail: {len(rows)} row(s), newest first")
    # at 80 columns the time, event and outcome stay whole; the scores and the client wrap
    table.add_column("time (UTC)", no_wrap=True, min_width=19)
    table.add_column("event", no_wrap=True)
    table.add_column("user", overflow="fold", min_width=6)
    table.add_column("outcome", no_wrap=True)
    table.add_column("scores", overflow="fold", ratio=2, min_width=8)
    wide = console.width >= 110  # the client and request id only where they fit (--json has them)
    if wide:
        table.add_column("client", overflow="fold", ratio=1)
        table.add_column("request", no_wrap=True, max_width=8)
    for r in rows:
        cells = [r.to_dict()["time"].replace("T", " ").removesuffix("+00:00"), r.event, r.user_id or "", r.outcome, _audit_scores(r.details)]
        table.add_row(*cells, *((r.client, r.request_id[:8]) if wide else ()))
    console.print(table)


def _audit_scores(d: dict) -> str:
    if "score" in d:
        checks = " ".join(f"{c['name']} {c['score']:.2f}{'' if c['passed'] else '✗'}" for c in d.get("checks", []))
        return f"{d['score']:.3f} / {d['threshold']:.3f}" + (f"; {checks}" if checks else "")
    if "candidates" in d:
        return ", ".join(f"{c['user']} {c['score']:.3f}" for c in d["candidates"][:3])
    if "n_clips" in d:
        return f"{d['n_clips']} clips" + (f" ({d['n_new_clips']} added)" if d["mode"] == "add" else f" ({d['mode']})")
    return d.get("message", "")[:60]


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


if __name__ == "__main__":  # pragma: no cover
    app()
