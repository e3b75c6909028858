"""Corpora and videos: preprocess (a corpus to lip clips) and inspect (one video, drawn)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from lipauth.cli.common import (
    EXIT_ERROR,
    BackendOpt,
    ColorOpt,
    SizeOpt,
    _pipeline_config,
    app,
    console,
    err_console,
    handle_errors,
)


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
