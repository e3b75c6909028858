"""The batch job behind `lipauth preprocess`: a corpus -> one .npz per clip + a manifest.

    OUT/clips/<clip_id>.npz    one LipClip each, written atomically
    OUT/manifest.csv           one row per clip: metadata, status, error, n_frames, fps
    OUT/preprocess.json        the settings, so a resumed run cannot mix crop sizes

Resumable: a clip whose .npz exists is done (the .npz, not the manifest, is the truth, so a
run killed between the two loses nothing). Failures are recorded with their reason and the
batch carries on; they are retried only with `retry_failed`.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterable

from lipauth import __version__
from lipauth.corpora.cache import load_clip, save_clip
from lipauth.corpora import CorpusItem, get_corpus
from lipauth.errors import InvalidInputError, LipauthError
from lipauth.video.decode import DECODER_VERSION
from lipauth.video.pipeline import LipPipeline, PipelineConfig

MANIFEST_FIELDS = [
    "clip_id", "speaker", "phrase", "emotion", "intensity", "repetition", "corpus", "source",
    "status", "error_code", "error", "n_frames", "fps", "file",
]  # fmt: skip


@dataclass
class PreprocessSummary:
    out: Path
    total: int
    done: int = 0  # processed in this run
    skipped: int = 0  # already done by an earlier run
    failed: dict[str, int] = field(default_factory=dict)  # error code -> count
    failures: list[dict] = field(default_factory=list)  # manifest rows of the failed clips
    seconds: float = 0.0

    @property
    def n_failed(self) -> int:
        return sum(self.failed.values())

    @property
    def fta_rate(self) -> float:
        """Failure-to-acquire rate over every clip of the corpus (fraction)."""
        return self.n_failed / self.total if self.total else 0.0


def clip_file(out: Path, clip_id: str) -> Path:
    return out / "clips" / f"{clip_id}.npz"


def preprocess_corpus(
    src: str | os.PathLike,
    out: str | os.PathLike,
    corpus: str,
    config: PipelineConfig | None = None,
    *,
    workers: int = 1,
    retry_failed: bool = False,
    on_progress: Callable[[int, int, dict], None] | None = None,
    dask: str | None = None,
) -> PreprocessSummary:
    """Preprocess every clip of `src` into `out`. `on_progress(done, total, row)` is called per clip.
    dask: a Dask scheduler's address (or "local:N") to run the clips on instead of
    `workers` local processes (lipauth.corpora.distributed); the output is the same."""
    config = config or PipelineConfig()
    out = Path(out)
    reader = get_corpus(corpus)
    items = reader.items(Path(src))
    _check_settings(out, corpus, config)

    previous = read_manifest(out / "manifest.csv") if (out / "manifest.csv").exists() else {}
    rows: dict[str, dict] = {}
    todo: list[CorpusItem] = []
    for item in items:
        cid = item.meta.clip_id
        old = previous.get(cid)
        if clip_file(out, cid).exists():
            rows[cid] = old if old and old["status"] == "done" else _row_from_file(item, out)
        elif old and old["status"] == "failed" and not retry_failed:
            rows[cid] = old
        else:
            todo.append(item)

    summary = PreprocessSummary(out=out, total=len(items), skipped=len(rows) - sum(r["status"] == "failed" for r in rows.values()))
    started = time.perf_counter()
    finished = len(rows)
    last_write = time.monotonic()
    if on_progress:
        on_progress(finished, len(items), {})
    try:
        if dask:
            from lipauth.corpora.distributed import run_on_dask

            finished_rows = run_on_dask(todo, out, corpus, config, dask) if todo else iter(())
        else:
            finished_rows = _run(todo, out, corpus, config, workers)
        for row in finished_rows:
            rows[row["clip_id"]] = row
            finished += 1
            if row["status"] == "done":
                summary.done += 1
            if on_progress:
                on_progress(finished, len(items), row)
            if time.monotonic() - last_write > 5:  # keep the manifest fresh during long runs
                write_manifest(out / "manifest.csv", rows, items)
                last_write = time.monotonic()
    finally:
        write_manifest(out / "manifest.csv", rows, items)
    summary.seconds = time.perf_counter() - started
    failures = [r for r in rows.values() if r["status"] == "failed"]
    summary.failed = dict(Counter(r["error_code"] for r in failures))
    summary.failures = failures
    return summary


# -- running ------------------------------------------------------------------------------
_worker_state: dict = {}


def _init_worker(corpus: str, config: PipelineConfig) -> None:
    reader = get_corpus(corpus)
    _worker_state["reader"] = reader
    _worker_state["config"] = config
    _worker_state["pipeline"] = LipPipeline(config) if reader.needs_pipeline else None


def process_item(item: CorpusItem, out: Path, corpus: str, config: PipelineConfig) -> dict:
    """One clip in a process that may not have set up (a Dask worker): the pipeline is made
    on its first clip and kept for the next."""
    if _worker_state.get("settings") != (corpus, config):
        _init_worker(corpus, config)
        _worker_state["settings"] = (corpus, config)
    return _process_one(item, out)


def _process_one(item: CorpusItem, out: Path) -> dict:
    reader, config, pipeline = _worker_state["reader"], _worker_state["config"], _worker_state["pipeline"]
    row = _base_row(item)
    try:
        clip = reader.load(item, crop=config.crop, pipeline=pipeline)
        path = save_clip(clip, clip_file(out, item.meta.clip_id))
        row.update(status="done", n_frames=clip.n_frames, fps=round(clip.fps, 4), file=str(path.relative_to(out)))
    except LipauthError as exc:
        row.update(status="failed", error_code=exc.code, error=str(exc))
    except Exception as exc:  # a bug or an unforeseen input: record it, keep the batch going
        row.update(status="failed", error_code="internal_error", error=f"{type(exc).__name__}: {exc}")
    return row


def _run(todo: list[CorpusItem], out: Path, corpus: str, config: PipelineConfig, workers: int) -> Iterable[dict]:
    if not todo:
        return
    if workers <= 1:
        _init_worker(corpus, config)
        for item in todo:
            yield _process_one(item, out)
        return
    # spawn, not fork: dlib and MediaPipe hold native threads and state that fork would copy.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=(corpus, config)) as pool:
        futures = [pool.submit(_process_one, item, out) for item in todo]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


# -- manifest and settings ----------------------------------------------------------------
def _base_row(item: CorpusItem) -> dict:
    row = {k: "" for k in MANIFEST_FIELDS}
    row.update({k: ("" if v is None else v) for k, v in item.meta.to_dict().items()})
    return row


def _row_from_file(item: CorpusItem, out: Path) -> dict:
    clip = load_clip(clip_file(out, item.meta.clip_id))
    row = _base_row(item)
    row.update(status="done", n_frames=clip.n_frames, fps=round(clip.fps, 4), file=str(clip_file(out, item.meta.clip_id).relative_to(out)))
    return row


def read_manifest(path: str | os.PathLike) -> dict[str, dict]:
    with open(path, newline="") as fh:
        return {row["clip_id"]: row for row in csv.DictReader(fh)}


def write_manifest(path: Path, rows: dict[str, dict], items: list[CorpusItem]) -> None:
    """Atomically rewrite the manifest, in corpus order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
            writer.writeheader()
            for item in items:
                row = rows.get(item.meta.clip_id)
                if row is not None:
                    writer.writerow({k: row.get(k, "") for k in MANIFEST_FIELDS})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _check_settings(out: Path, corpus: str, config: PipelineConfig) -> None:
    settings = {"corpus": corpus, "pipeline": config.to_dict(), "decoder": DECODER_VERSION}
    path = out / "preprocess.json"
    if path.exists():
        old = json.loads(path.read_text())
        if {k: old.get(k) for k in settings} != settings:
            raise InvalidInputError(
                f"{out} holds clips made with other settings ({json.dumps(old.get('pipeline'))}, decoder version {old.get('decoder', 1)}); use a new output folder"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**settings, "lipauth_version": __version__}, indent=2))

