"""How long a service takes to come up with many enrolled users (issue #26, item 6): the identify
index (lipauth.auth.indexed.IndexedTemplates) built from a real encrypted SQLite store, with
the binary template payload in two encrypted parts (TemplateStore.seal: the index decrypts only
the lips'), beside the one JSON payload lipauth wrote before it, in the same run.

    python benchmarks/store_startup.py [--sizes 10000 100000 1000000] [--json-up-to 100000] [--dir /tmp]

Each store holds fused templates as the bundled model enrols them: 3 clips of lips (192),
voice (256) and face (128) float32 vectors, Fernet-encrypted, one row per user. Stores are
written in bulk (the benchmark's own inserts, not enrol), then a fresh TemplateStore opens
each and the index is built, as `create_app` does; "start-up" is that build, median of
--runs (one run at 10^6), with the processes create_app would use (one per core from 200,000 users: lipauth.auth.indexed). The JSON store (the payload before this change, which lipauth still reads) is built
only up to --json-up-to users (its 10^6 store would take ~45 GB); above that its time is
extrapolated linearly from its largest size, and marked so. Target: 10^6 users in <= 60 s.
The last column: with the voice and face indexed too (identify's shortlist, issue #24), the
seconds until those indexes, built in a thread after start, are ready.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from lipauth.auth.indexed import IndexedTemplates
from lipauth.auth.store import TemplateStore, users_table
from lipauth.auth.templates import Template

TARGET_S = 60.0
SHAPES = {"lips": (3, 192), "voice": (3, 256), "face": (3, 128)}


def legacy_json(t: Template) -> bytes:
    """The payload lipauth wrote before the binary one (Template._from_json reads it)."""
    d = {"embeddings": t.embeddings.tolist(), "model_id": t.model_id, "passphrase_hash": t.passphrase_hash, "created_at": t.created_at, "modalities": {k: v.tolist() for k, v in t.modalities.items()}}
    return json.dumps(d).encode()


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def build_store(path: Path, n: int, payload, seed: int = 0) -> TemplateStore:
    store = TemplateStore(path, create=True)
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for start in range(0, n, 10_000):
        rows = []
        for i in range(start, min(n, start + 10_000)):
            mods = {m: unit(rng.standard_normal(shape)) for m, shape in SHAPES.items()}
            t = Template.from_embeddings(f"user{i:07d}", mods.pop("lips"), "bench-model", modalities=mods)
            sealed = store.seal(t) if payload is None else store.cipher.encrypt(payload(t))
            rows.append({"user_id": t.user_id, "created_at": now, "updated_at": now, "n_clips": 3, "payload": sealed})
        with store.engine.begin() as conn:
            conn.execute(users_table.insert(), rows)
    return store


def start_up(path: Path, runs: int) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        store = TemplateStore(path)  # a fresh process's view: nothing cached
        t = time.perf_counter()
        index = IndexedTemplates(store, "bench-model")
        times.append(time.perf_counter() - t)
        n = len(index.index.own)
        store.close()
        del index
    return statistics.median(times), n


def modalities_ready(path: Path) -> float:
    """Seconds from start until the voice and face indexes (built in a thread after start,
    for identify's shortlist) are ready, the lips' start-up included."""
    store = TemplateStore(path)
    t = time.perf_counter()
    index = IndexedTemplates(store, "bench-model", modalities=("voice", "face"))
    index.wait_for_modalities()
    seconds = time.perf_counter() - t
    assert len(index.by_modality["face"].own) == len(index.index.own)
    store.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--json-up-to", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3, help="start-ups per store (median)")
    ap.add_argument("--dir", type=Path, default=None, help="where the stores are written (default: a temporary folder)")
    args = ap.parse_args()
    print("| users | payload | store (MB) | write (s) | start-up (s, median) | per user (µs) | target | voice + face indexes ready (s) |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="lipauth-startup-") as tmp:
        json_per_user = None
        for n in args.sizes:
            for name, payload in (("JSON (before)", legacy_json), ("binary, in two parts", None)):
                if payload is legacy_json and n > args.json_up_to:
                    if json_per_user is not None:
                        print(f"| {n:,} | {name} | – | – | ~{json_per_user * n:.0f} (extrapolated from {args.json_up_to:,}) | {1e6 * json_per_user:.0f} | | |", flush=True)
                    continue
                path = Path(tmp) / f"{name[:4]}-{n}.db"
                t = time.perf_counter()
                build_store(path, n, payload).close()
                written = time.perf_counter() - t
                seconds, found = start_up(path, args.runs if n < 1_000_000 else 1)
                assert found == n, (found, n)
                if payload is legacy_json:
                    json_per_user = seconds / n
                met = "" if n != 1_000_000 else ("met" if seconds <= TARGET_S else "NOT met") + f" ({TARGET_S:.0f} s)"
                ready = f"{modalities_ready(path):.1f}" if payload is None else ""
                print(f"| {n:,} | {name} | {path.stat().st_size / 2**20:.0f} | {written:.0f} | {seconds:.1f} | {1e6 * seconds / n:.0f} | {met} | {ready} |", flush=True)
                path.unlink()
                Path(str(path) + ".key").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
