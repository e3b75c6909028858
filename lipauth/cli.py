"""The `lipauth` command (Typer + Rich). Library errors become one-line messages and exit 2."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lipauth.errors import LipauthError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Lip-based biometric authentication.")
console = Console()
err_console = Console(stderr=True)

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
    from lipauth.video.roi import CropSpec

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
) -> None:
    """Turn a corpus into cached lip clips. Resumable; failures are recorded, not fatal."""
    from lipauth.preprocess import preprocess_corpus

    config = _pipeline_config(backend, size, color)
    summary = _run_preprocess(preprocess_corpus, src, out, corpus, config, workers, retry_failed)
    _print_summary(summary)
    if summary.total and summary.n_failed == summary.total:
        raise typer.Exit(EXIT_ERROR)


def _run_preprocess(fn, src, out, corpus, config, workers, retry_failed):
    columns = [TextColumn("[bold]preprocess"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("clips", total=None, failed=0)
        failed = 0

        def on_progress(done: int, total: int, row: dict) -> None:
            nonlocal failed
            failed += row.get("status") == "failed"
            progress.update(task, completed=done, total=total, failed=failed)

        return fn(src, out, corpus, config, workers=workers, retry_failed=retry_failed, on_progress=on_progress)


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


@app.command()
@handle_errors
def demo(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with the sample corpora (default: $LIPAUTH_DATA or ../shared/data)."),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where to write results."),
    backend: str = BackendOpt,
) -> None:
    """Preprocess the bundled sample recordings and draw a contact sheet of one of them."""
    from lipauth.data.corpora import get_corpus
    from lipauth.data.shared import default_data_root
    from lipauth.errors import CorpusError
    from lipauth.preprocess import preprocess_corpus

    root = data or default_data_root()
    corpora = [("crema-d", root / "crema-d-sample"), ("grid", root / "grid-sample"), ("grid", root / "grid-s2")]
    present = [(c, p) for c, p in corpora if p.is_dir()]
    if not present:
        raise CorpusError(f"no sample corpora under {root} (expected crema-d-sample/, grid-sample/, grid-s2/); pass --data DIR")
    config = _pipeline_config(backend, "30x18", "grey")
    for corpus, path in present:
        console.rule(f"{corpus}: {path}")
        summary = _run_preprocess(preprocess_corpus, path, out / path.name, corpus, config, 2, False)
        _print_summary(summary)
    corpus, path = present[0]
    first = get_corpus(corpus).items(path)[0].path
    _inspect(first, out / "inspect.png", config, 8)


if __name__ == "__main__":  # pragma: no cover
    app()
