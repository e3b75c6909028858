"""What every command group shares: the Typer app, error handling (typed errors to one line and
exit code 2), the common options, and the helpers that open a store, a verifier and a
progress bar. Commands live in the modules beside this one, one per group."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lipauth.errors import InvalidInputError, LipauthError

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
    from lipauth.clip import CropSpec
    from lipauth.video.pipeline import PipelineConfig

    w, h = CropSpec.parse_size(size)
    return PipelineConfig(backend=backend, crop=CropSpec(width=w, height=h, color=color))


BackendOpt = typer.Option("dlib", "--backend", help="Landmark backend: dlib (68-point) or mediapipe (FaceMesh).")
SizeOpt = typer.Option("30x18", "--size", help="Crop size WIDTHxHEIGHT (WhisperNet v2: 30x18; AVLetters framing: 80x60).")
ColorOpt = typer.Option("grey", "--color", help="grey or rgb crops.")


def _overrides(epochs: Optional[int], seed: Optional[int], ensemble: Optional[int] = None) -> dict:
    o: dict = {}
    train = {k: v for k, v in (("epochs", epochs), ("ensemble", ensemble)) if v is not None}
    if train:
        o["train"] = train
    if seed is not None:
        o["seed"] = seed
    return o


EnsembleOpt = typer.Option(None, "--ensemble", min=1, help="Override the config's train.ensemble: how many networks (seeds S, S+1, ...) the model averages.")


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
