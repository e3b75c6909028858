"""Models: train (any recipe), evaluate, crossval and calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lipauth.cli.common import (
    EnsembleOpt,
    ModelOpt,
    _early_checks,
    _fmt,
    _overrides,
    _progress,
    app,
    console,
    err_console,
    handle_errors,
)
from lipauth.errors import InvalidInputError


@app.command()
@handle_errors
def train(
    config: Path = typer.Option(..., "--config", help="Recipe YAML (see configs/): its `kind` says what it trains (lip_embedding, av_sync, face_liveness, face_texture)."),
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
    from lipauth.clip import CropSpec
    from lipauth.corpora.dataset import load_dataset

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
