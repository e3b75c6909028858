import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from lipauth.cli import app
from lipauth.video.encode import write_video
from tests.conftest import need

runner = CliRunner()


def test_preprocess_command(tmp_path):
    src = tmp_path / "src"
    (src / "kim").mkdir(parents=True)
    shutil.copy(need("grid-sample/lwbsza.mpg"), src / "kim" / "x.mpg")
    (src / "kim" / "junk.mp4").write_text("junk")
    res = runner.invoke(app, ["preprocess", str(src), str(tmp_path / "out"), "--corpus", "folder", "--size", "40x24"])
    assert res.exit_code == 0, res.output
    assert "FTA rate (%)" in res.output and "50.0" in res.output
    assert "unreadable_video" in res.output
    assert (tmp_path / "out" / "clips" / "kim_x.npz").exists()


def test_preprocess_with_everything_failing_exits_2(tmp_path):
    (tmp_path / "src" / "kim").mkdir(parents=True)
    (tmp_path / "src" / "kim" / "junk.mp4").write_text("junk")
    res = runner.invoke(app, ["preprocess", str(tmp_path / "src"), str(tmp_path / "out"), "--corpus", "folder"])
    assert res.exit_code == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["preprocess", "/nonexistent", "/tmp/x", "--corpus", "grid"], "not a directory"),
        (["preprocess", ".", "/tmp/x", "--corpus", "timit"], "unknown corpus"),
        (["preprocess", ".", "/tmp/x", "--corpus", "grid", "--size", "big"], "WIDTHxHEIGHT"),
        (["inspect", "/nonexistent.mp4", "--out", "/tmp/x.png"], "no such file"),
        (["inspect", "README.md", "--out", "/tmp/x.png", "--backend", "openface"], "unknown landmark backend"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, message):
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_inspect_writes_a_contact_sheet(tmp_path):
    out = tmp_path / "sheet.png"
    res = runner.invoke(app, ["inspect", str(need("crema-d-sample/1001_DFA_NEU_XX.flv")), "--out", str(out), "--frames", "6"])
    assert res.exit_code == 0, res.output
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[1] > 2 * img.shape[0]  # a wide sheet: 6 columns, 2 rows
    assert img[..., :3].std() > 0.05  # not a blank picture
    # piped output is not broken at 80 columns: the summary is one line, however long
    assert len(res.output.strip()) > 80 and res.output.strip().count("\n") == 0, res.output


def test_inspect_bad_inputs(tmp_path):
    text = tmp_path / "a.mp4"
    text.write_text("hello")
    res = runner.invoke(app, ["inspect", str(text), "--out", str(tmp_path / "o.png")])
    assert res.exit_code == 2 and "not a readable video" in res.output
    noise = np.random.default_rng(0).integers(0, 255, (15, 96, 128, 3), dtype=np.uint8)
    res = runner.invoke(app, ["inspect", str(write_video(tmp_path / "n.mp4", noise, 25.0)), "--out", str(tmp_path / "o.png")])
    assert res.exit_code == 2 and "no face" in res.output
    assert not (tmp_path / "o.png").exists()


@pytest.mark.slow
def test_demo_runs_the_whole_story(tmp_path):
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--epochs", "2"])
    assert res.exit_code == 0, res.output
    for step in ("preprocess", "train", "evaluate", "enrol", "genuine attempt", "impostor attempt"):
        assert step in res.output
    assert len(list((out / "clips" / "clips").glob("*.npz"))) == 192
    import json

    m = json.loads((out / "eval" / "metrics.json").read_text())
    assert m["n_speakers"] == 2 and m["n_genuine_text_independent"] > 0
    assert (out / "eval" / "det.png").stat().st_size > 10_000 and (out / "run" / "model.pt").exists()


@pytest.mark.slow
def test_demo_on_real_data_after_the_synthetic_demo(tmp_path):
    """The README's next step after `make demo`: `demo --data` with the same output folder."""
    out = tmp_path / "demo"
    assert runner.invoke(app, ["demo", "--out", str(out), "--epochs", "1"]).exit_code == 0
    res = runner.invoke(app, ["demo", "--out", str(out), "--epochs", "1", "--data", str(need("avletters").parent)])
    assert res.exit_code == 0, res.output
    assert (out / "avletters" / "eval" / "det.png").is_file() and (out / "eval" / "det.png").is_file()
    assert "3 clips each" in res.output  # as many as the evaluation's templates (hist.png's title)


def test_demo_with_data_that_has_no_avletters_says_so(tmp_path):
    res = runner.invoke(app, ["demo", "--data", str(tmp_path)])
    assert res.exit_code == 2 and "avletters" in res.output


def test_train_reports_one_network_or_an_ensemble():
    from lipauth.cli import training_outcome

    one = {"best_val_eer": 0.0375, "best_epoch": 3, "refit": {"epochs": 4, "speakers": list("abcdefg")}}
    assert training_outcome(one) == "best validation EER 3.75 % at epoch 3; retrained on all 7 speakers for 4 epochs"
    ens = {"best_val_eer": 0.04, "ensemble": {"seeds": [0, 1, 2], "best_epochs": [3, 0, 8], "val_eer": 0.0147}}
    assert training_outcome(ens) == "ensemble of 3 (seeds [0, 1, 2]): validation EER 1.47 %, members' best epochs [3, 0, 8]"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["verify", "--help"], ["verify", "alice", "/nonexistent/probe.mp4"], ["verify", "alice", "README.md", "--operating-point", "bogus"], ["verify", "alice", "README.md", "--modalities", "lips,iris"], ["enroll", "bob", "/nonexistent/a.mp4"], ["identify", "/nonexistent/p.mp4"]],
)
def test_help_and_argument_errors_answer_before_torch_or_a_model_loads(args):
    """Start-up (issue #16): what the arguments alone decide is answered without importing
    PyTorch, NumPy, OpenCV, PyAV or dlib (a fresh interpreter, since this one has them loaded)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom lipauth.cli import app\ntry:\n    app(sys.argv[1:], prog_name='lipauth')\nexcept SystemExit as e:\n    code = e.code\n"
        "print([m for m in ('torch', 'numpy', 'cv2', 'av', 'dlib', 'sklearn', 'fastapi') if m in sys.modules], code, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60)
    heavy, code = done.stderr.strip().splitlines()[-1].rsplit(" ", 1)
    assert heavy == "[]", (args, done.stderr[-500:])
    assert code == ("0" if "--help" in args else "2")


def test_version_and_both_spellings_need_no_model(tmp_path, monkeypatch):
    import lipauth
    import lipauth.api
    from lipauth.scoring.points import parse_scoring

    monkeypatch.setattr(lipauth.api, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"lipauth {lipauth.__version__}"
    assert parse_scoring("normalized") == parse_scoring("normalised") == "normalised"
    res = runner.invoke(app, ["audit", "--store", str(tmp_path / "none.db"), "--event", "enroll"])
    assert res.exit_code == 2 and "no template store" in res.output, res.output  # the spelling passed; the store is what is missing
    res = runner.invoke(app, ["audit", "--store", str(tmp_path / "none.db"), "--event", "enrolment"])
    assert res.exit_code == 2 and "audit event must be one of" in res.output


def test_every_command_argument_and_option_has_help_text():
    import click
    import typer.main

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    missing = [(path, "the command") for path, cmd in walk(typer.main.get_command(app), []) if not cmd.help]
    missing += [(path, p.name) for path, cmd in walk(typer.main.get_command(app), []) for p in cmd.params if p.name != "help" and not getattr(p, "help", None)]
    assert not missing, missing
