"""Peak memory and time of `lipauth verify --liveness` per input size, beside the code of an
earlier commit in the same run (issue #17: a 30 s 4K upload must not take the machine).

    python benchmarks/video_resources.py [--baseline-ref 2f62df5] [--cap-gb 8] [--work runs/video-resources]

Inputs, made once into --work with PyAV: a real talking face (talking-faces/hdtf_obama.mp4,
its own speech) scaled to fill the height of 854x480, 1920x1080 and 3840x2160 frames, looped
to 3 s and 30 s; and a 30 s 4K plain grey frame (it compresses to almost nothing, the
attacker's cheap upload). The speaker is enrolled from 3 s of the same clip at 480p.

Each verify runs in its own process; its peak RSS (VmHWM) and wall time are printed with
its answer (a decision, or the error's code). A run past --cap-gb of RSS is stopped and
shown as "> cap". The baseline is `git archive <ref> lipauth` run the same way.

Normal clips, to show they keep their accuracy and speed: `lipauth score --trials` over the
GRID clips of the shared data (each grid-s2 clip against its first, a target trial; each
grid-sample clip of another speaker against it, a nontarget trial) in each tree: the EER,
the largest change of a trial's score, and the run's time (one process, every video
embedded once; --repeat runs, median).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lipauth.corpora.shared import default_data_root

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"480p": (854, 480), "1080p": (1920, 1080), "4K": (3840, 2160)}
# An editable install maps `lipauth` to this tree ahead of PYTHONPATH: its finder is dropped
# so that the baseline's copy is the one imported (the runner says which it got).
RUNNER = """
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
import lipauth
print("@@" + json.dumps({"lipauth": lipauth.__file__}), file=sys.stderr)
from lipauth.cli import app
code = 0
try:
    app(sys.argv[1:], prog_name="lipauth")
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 1
print("@@" + json.dumps({"exit": code}), file=sys.stderr)
"""


def source_clip(data: Path):
    from lipauth.video.decode import decode_video

    return decode_video(data / "talking-faces" / "hdtf_obama.mp4")


def make_inputs(work: Path, data: Path) -> dict[str, Path]:
    from lipauth.clip import AUDIO_RATE
    from lipauth.video.encode import write_video

    work.mkdir(parents=True, exist_ok=True)
    wanted = {f"{name} {s} s": (size, s) for name, size in SIZES.items() for s in (3, 30)} | {"4K plain 30 s": (SIZES["4K"], 30)}
    paths = {k: work / (k.replace(" ", "_") + ".mp4") for k in wanted}
    if all(p.exists() for p in paths.values()) and (work / "enrol.mp4").exists():
        return paths
    src = source_clip(data)
    import cv2

    def frames(size, seconds, plain=False, start=0):
        w, h = size
        for i in range(int(seconds * src.fps)):
            canvas = np.full((h, w, 3), 90, np.uint8)
            if not plain:
                face = cv2.resize(src.frames[(start + i) % src.n_frames], (h, h), interpolation=cv2.INTER_CUBIC)
                canvas[:, (w - h) // 2 : (w - h) // 2 + h] = face
            yield canvas

    def sound(seconds, start=0):
        n = int(seconds * AUDIO_RATE)
        s0 = int(start / src.fps * AUDIO_RATE)
        return np.resize(np.roll(src.audio, -s0), n)

    fast = {"preset": "ultrafast"}
    for k, (size, seconds) in wanted.items():
        if not paths[k].exists():
            print(f"writing {paths[k].name}", flush=True)
            write_video(paths[k], frames(size, seconds, plain="plain" in k), src.fps, None if "plain" in k else sound(seconds), codec_options=fast)
    write_video(work / "enrol.mp4", frames(SIZES["480p"], 3, start=200), src.fps, sound(3, 200), codec_options=fast)
    return paths


def run(pythonpath: Path, args: list[str], env: dict, cap_bytes: float) -> dict:
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, *args], cwd=pythonpath, env={**env, "PYTHONPATH": str(pythonpath)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, stopped = 0, False
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) * 1024)
        except (OSError, StopIteration):
            pass
        if peak > cap_bytes:
            proc.kill()
            stopped = True
        time.sleep(0.05)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t
    said = {k: v for ln in err.splitlines() if ln.startswith("@@") for k, v in json.loads(ln[2:]).items()}
    if "lipauth" in said and not said["lipauth"].startswith(str(pythonpath)):
        raise SystemExit(f"{pythonpath}: the run imported lipauth from {said['lipauth']}")
    exit_code = said.get("exit", proc.returncode)
    answer = "stopped"
    if not stopped:
        try:
            body = json.loads(out)
            if "error" in body:
                answer = f"error: {body['error']}"
            else:
                failed = [c["name"] for c in body.get("checks", []) if not c.get("passed", True)] or (["identity"] if body["score"] < body["threshold"] else [])
                answer = "accepted" if body["accepted"] else f"rejected ({', '.join(failed)})"
        except (json.JSONDecodeError, KeyError):
            lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("@@")]
            answer = f"error: {lines[-1][:90]}" if lines else "error"
    return {"peak_bytes": peak, "seconds": seconds, "answer": answer, "stopped": stopped, "exit": exit_code, "stderr": err}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=default_data_root())
    ap.add_argument("--work", type=Path, default=Path("runs/video-resources"))
    ap.add_argument("--baseline-ref", default="2f62df5", help="the commit to measure beside this working tree")
    ap.add_argument("--cap-gb", type=float, default=8.0, help="stop a run whose RSS passes this")
    ap.add_argument("--only", nargs="*", help="input names to run (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the normal-clip trials per tree")
    args = ap.parse_args()
    args.work = args.work.resolve()
    inputs = make_inputs(args.work, args.data)
    if args.only:
        inputs = {k: v for k, v in inputs.items() if k in args.only}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        base = tmp / "baseline"
        base.mkdir()
        subprocess.run(f"git -C {ROOT} archive {args.baseline_ref} lipauth | tar -x -C {base}", shell=True, check=True)
        env = {**os.environ, "LIPAUTH_STORE_KEY": subprocess.run([sys.executable, "-c", "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"], capture_output=True, text=True, check=True).stdout.strip()}
        trees = {"this tree": ROOT, f"baseline {args.baseline_ref}": base}
        results = {}
        for label, tree in trees.items():
            store = tmp / f"{label.split()[0]}.db"
            enrol = run(tree, ["enroll", "obama", str(args.work / "enrol.mp4"), "--store", str(store)], env, args.cap_gb * 2**30)
            if enrol["exit"] != 0:
                raise SystemExit(f"{label}: enrolment failed: {enrol['stderr'][-300:]}")
            for name, path in inputs.items():
                r = run(tree, ["verify", "obama", str(path), "--store", str(store), "--liveness", "--json", "--max-failures", "1000"], env, args.cap_gb * 2**30)
                results[(name, label)] = r
                print(f"{label:>20} | {name:<14} | {r['peak_bytes'] / 2**30:5.2f} GB | {r['seconds']:6.1f} s | {r['answer']}", flush=True)
        normal = {label: normal_clips(tree, args.data, tmp, env, args.repeat) for label, tree in trees.items()}
    print("\n| input | peak RSS, this tree | time | answer | peak RSS, baseline | time | answer |")
    print("|---|---|---|---|---|---|---|")
    for name in inputs:
        a, b = results[(name, "this tree")], results[(name, f"baseline {args.baseline_ref}")]
        gb = lambda r: f"> {args.cap_gb:g} GB (stopped)" if r["stopped"] else f"{r['peak_bytes'] / 2**30:.2f} GB"  # noqa: E731
        print(f"| {name} | {gb(a)} | {a['seconds']:.1f} s | {a['answer']} | {gb(b)} | {b['seconds']:.1f} s | {b['answer']} |")
    (la, a), (lb, b) = normal.items()
    change = max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"] if k in b["scores"])
    print(f"\nNormal clips ({a['n_target']} target and {a['n_nontarget']} nontarget trials, GRID 360x288 and 720x576):")
    for label, r in normal.items():
        print(f"  {label:>20}: EER {100 * r['eer']:.1f} %, {r['seconds']:.1f} s for the run (median of {args.repeat}), peak {r['peak_bytes'] / 2**30:.2f} GB")
    print(f"  largest change of a trial's score: {change:.4f}")


def normal_clips(tree: Path, data: Path, tmp: Path, env: dict, repeat: int) -> dict:
    import csv

    from lipauth.measure.metrics import eer

    s2 = sorted((data / "grid-s2" / "video").glob("*.mpg"))
    others = [p for p in sorted((data / "grid-sample").glob("*.mpg")) if p.stem != "lwbsza"]
    trials = tmp / "trials.txt"
    trials.write_text("".join(f"{s2[0]} {p} target\n" for p in s2[1:]) + "".join(f"{s2[0]} {p} nontarget\n" for p in others))
    runs = []
    for i in range(repeat):
        out = tmp / f"scores-{tree.name}-{i}.csv"
        runs.append(run(tree, ["score", "--trials", str(trials), "--out", str(out)], env, 8 * 2**30))
    if out.read_text().startswith("enrol,"):  # the CSV `score` wrote before it wrote Bob's 4 columns
        rows = [r for r in csv.DictReader(out.open()) if r["score"]]
        probes, scores, labels = [r["probe"] for r in rows], np.array([float(r["score"]) for r in rows]), np.array([r["label"] == "target" for r in rows])
    else:
        from lipauth.eval.scores import ScoreList

        read = ScoreList.read(out)
        probes, scores, labels = list(read.probe), read.scores, read.genuine
    return {
        "scores": dict(zip(probes, map(float, scores))),
        "eer": eer(scores, labels)[0],
        "n_target": int(labels.sum()),
        "n_nontarget": int((~labels).sum()),
        "seconds": float(np.median([r["seconds"] for r in runs])),
        "peak_bytes": max(r["peak_bytes"] for r in runs),
    }


if __name__ == "__main__":
    main()
