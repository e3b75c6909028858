"""The service under load (issue #17, item 6): `lipauth serve` in its own process, N clients
at once sending a mix of genuine and impostor GRID clips, unreadable and oversized uploads
and claims of unknown users, R rounds. Prints the answers by kind, p50/p99 latency beside
the latency of one verify alone (the same server, before the load), and the server's peak
memory. The test of the same mix is tests/test_load.py.

    python benchmarks/service_load.py [--clients 8] [--rounds 2] [--liveness]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support
from lipauth.corpora.shared import default_data_root  # noqa: E402
from tests.support.load import Request, ServiceProcess, run_clients, send, summary  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    s2 = sorted((args.data / "grid-s2" / "video").glob("*.mpg"))
    others = [p for p in sorted((args.data / "grid-sample").glob("*.mpg")) if p.stem != "lwbsza"]
    if len(s2) < 8 or len(others) < 4:
        raise SystemExit(f"{args.data}: needs grid-s2/video and grid-sample")
    env = {"LIPAUTH_STORE_KEY": Fernet.generate_key().decode(), "LIPAUTH_API_KEY": "k"}
    os.environ.update(env)
    mix = (
        [Request("genuine", "s2", p.name, p.read_bytes()) for p in s2[4:8]]
        + [Request("impostor", "s2", p.name, p.read_bytes()) for p in others[:4]]
        + [Request("bad", "s2", f"junk{i}.mp4", os.urandom(50_000)) for i in range(2)]
        + [Request("oversized", "s2", "big.mpg", b"\0" * int(3.2 * 2**20)) for _ in range(2)]
        + [Request("unknown_user", "ghost", s2[4].name, s2[4].read_bytes())]
    )
    with tempfile.TemporaryDirectory() as tmp:
        from lipauth.api import load_model
        from lipauth.auth.store import TemplateStore
        from lipauth.auth.verifier import Verifier

        store = str(Path(tmp) / "t.db")
        Verifier(load_model(None), TemplateStore(store, create=True)).enroll("s2", s2[:2])
        server = ServiceProcess(store, env, "--max-upload-mb", "3", "--max-waiting", str(4 * args.clients), "--max-failures", "100000")
        try:
            alone = [send(server.url, "k", mix[0]).seconds for _ in range(3)]
            t = time.perf_counter()
            answers = run_clients(server.url, "k", mix * args.rounds, clients=args.clients)
            wall = time.perf_counter() - t
            peak = server.peak_rss_bytes()
        finally:
            server.stop()
    s = summary(answers)
    print(f"{s['requests']} requests from {args.clients} clients at once ({args.rounds} rounds of {len(mix)}: 4 genuine, 4 impostor, 2 unreadable, 2 oversized, 1 unknown user)")
    print("answers: " + ", ".join(f"{k}: {v}" for k, v in s["answers"].items()))
    heavy = sorted(a.seconds for a in answers if a.status == 200)
    print(f"latency, every request: p50 {s['p50_s']:.2f} s, p99 {s['p99_s']:.2f} s; decisions only: p50 {statistics.median(heavy):.2f} s, max {heavy[-1]:.2f} s")
    print(f"one verify alone (median of 3, same server): {statistics.median(alone):.2f} s  <- baseline")
    print(f"throughput: {len(answers) / wall:.2f} requests/s, {len(heavy) / wall:.2f} decisions/s over {wall:.1f} s (one at a time: at most {1 / statistics.median(alone):.2f} decisions/s)")
    print(f"server peak RSS: {peak / 2**30:.2f} GB")


if __name__ == "__main__":
    main()
