"""Start-up of the `lipauth` command (issue #16, item 2): `--help` and argument errors must
answer before PyTorch or a model loads. Median wall time of --runs runs of each command, in
a fresh process, beside the interpreter alone and the interpreter importing torch (what a
command would pay if it loaded torch before looking at its arguments), in the same run.

    python benchmarks/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

LIPAUTH = [sys.executable, "-m", "lipauth.cli"]
COMMANDS = {
    "python -c pass (floor)": [sys.executable, "-c", "pass"],
    "python -c 'import torch' (baseline)": [sys.executable, "-c", "import torch"],
    "lipauth --help": [*LIPAUTH, "--help"],
    "lipauth verify --help": [*LIPAUTH, "verify", "--help"],
    "lipauth verify, missing video": [*LIPAUTH, "verify", "alice", "/nonexistent/probe.mp4"],
    "lipauth verify, bad operating point": [*LIPAUTH, "verify", "alice", str(Path(__file__)), "--operating-point", "bogus"],
    "lipauth enroll, missing video": [*LIPAUTH, "enroll", "alice", "/nonexistent/a.mp4"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    print("| command | median (s) | exit |\n|---|---|---|")
    for name, cmd in COMMANDS.items():
        times, code = [], None
        for _ in range(args.runs):
            t = time.perf_counter()
            code = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            times.append(time.perf_counter() - t)
        print(f"| {name} | {statistics.median(times):.3f} | {code} |", flush=True)


if __name__ == "__main__":
    main()
