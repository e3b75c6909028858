"""People: enroll, verify, identify, the spoken challenge, enrolment tokens, users and the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from lipauth.cli.common import (
    CooldownOpt,
    MaxFailuresOpt,
    ModalitiesOpt,
    ModelOpt,
    PointOpt,
    ScoringOpt,
    StoreOpt,
    _cli_client,
    _fail,
    _print_checks,
    _store,
    _verifier,
    app,
    console,
    err_console,
    handle_errors,
)
from lipauth.errors import InvalidInputError, LipauthError


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

    from lipauth.auth.audit import AuditLog, Origin
    from lipauth.auth.challenges import ChallengeBook, issue_challenge

    opened = _store(store)
    c = issue_challenge(ChallengeBook(opened), user, ttl_s=ttl, audit=AuditLog(opened), origin=Origin(_cli_client()))
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

    from lipauth.auth.audit import AuditLog, Origin
    from lipauth.auth.tokens import TokenBook, issue_enrol_token

    opened = _store(store, create=True)  # the first user may be enrolled from the page
    t = issue_enrol_token(TokenBook(opened), user, mode=mode, ttl_s=ttl, audit=AuditLog(opened), origin=Origin(_cli_client()))
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
    from lipauth.auth.attempts import unlock
    from lipauth.auth.audit import AuditLog, Origin

    opened = _store(store)
    had = unlock(opened, user, audit=AuditLog(opened), origin=Origin(_cli_client()))
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
