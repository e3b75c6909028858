"""`lipauth demo`: the whole story on a built-in synthetic corpus (or on real data with
--data), in about a minute on 2 cores:

    generate mouth videos -> preprocess -> train WhisperNet v2 briefly -> evaluate (DET plot)
    -> enrol two held-out speakers -> verify one genuine and one impostor -> summary
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lipauth.protocol import Split
from lipauth.errors import CorpusError
from lipauth.clip import CropSpec

CROP = CropSpec(30, 18)
# The recommended AVLetters recipe (configs/whispernet_v2_avletters.yaml), shortened.
RECIPE = {
    "model": {"name": "whispernet_v2", "pool": "time", "bn_neck": True},
    "data": {"crop": {"width": CROP.width, "height": CROP.height, "color": CROP.color}, "length": 16},
    "train": {"P": 6, "K": 6, "miner": "none", "loss": {"type": "supcon", "temperature": 0.1}, "patience": 99},
    "augment": None,
}


def run_demo(out: Path, data: Path | None, *, epochs: int, progress) -> dict[str, Any]:
    """`progress(step, text)` reports each step. Returns the figures of the summary."""
    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier
    from lipauth.corpora.dataset import load_dataset
    from lipauth.eval.evaluate import evaluate_clips
    from lipauth.corpora.preprocess import preprocess_corpus
    from lipauth.training.config import load_config
    from lipauth.training.trainer import train
    from lipauth.video.pipeline import PipelineConfig

    if data is None:
        from lipauth.corpora.synthetic import write_corpus

        progress("generate", "synthetic mouth videos: 8 speakers x 4 phrases x 3 emotions x 2 repetitions")
        source, corpus = out / "synthetic", "lipcrops"
        write_corpus(source, n_speakers=8)
    else:
        source, corpus = data / "avletters", "avletters"
        if not source.is_dir():
            raise CorpusError(f"{source}: not found; --data must hold avletters/ (see ../shared/data)")
        out = out / "avletters"  # beside the synthetic demo's clips and run, which `make demo` left in out
    progress("preprocess", f"{source} -> {out / 'clips'}")
    pre = preprocess_corpus(source, out / "clips", corpus, PipelineConfig(crop=CROP), workers=2)
    dataset = load_dataset(out / "clips", corpus, CROP)
    speakers = dataset.speakers
    split = Split(train=tuple(speakers[:-4]), val=tuple(speakers[-4:-2]), test=tuple(speakers[-2:]))
    progress("train", f"WhisperNet v2, {epochs} epochs, train {len(split.train)} / validate {len(split.val)} / test {len(split.test)} speakers")
    cfg = load_config(None, {**RECIPE, "train": {**RECIPE["train"], "epochs": epochs}})
    summary = train(cfg, dataset, out / "run", split=split, progress=False)
    model = load_model(out / "run" / "model.pt")
    progress("evaluate", f"unseen speakers {', '.join(split.test)} -> {out / 'eval'}")
    test_clips = dataset.of_speakers(split.test)
    metrics = evaluate_clips(model.embedder, test_clips, out / "eval", n_boot=200, title="demo").metrics()
    n_enrol = int(model.embedder.verify_thresholds.get("n_enrol", 3))  # as the evaluation's templates (hist.png)
    progress("enrol", f"{split.test[0]} and {split.test[1]}, {n_enrol} clips each")
    alice, bob = ([c for c in test_clips if c.meta.speaker == s] for s in split.test)
    store_path = out / "templates.db"
    for p in (store_path, store_path.with_suffix(".db.key")):
        p.unlink(missing_ok=True)
    verifier = Verifier(model, TemplateStore(store_path, create=True))
    verifier.enroll(split.test[0], alice[:n_enrol])
    verifier.enroll(split.test[1], bob[:n_enrol])
    genuine = verifier.verify(split.test[0], alice[-1])
    impostor = verifier.verify(split.test[0], bob[-1])
    return {
        "clips": pre.total, "fta_rate": pre.fta_rate, "val_eer": summary["best_val_eer"], "metrics": metrics,
        "genuine": genuine, "impostor": impostor, "claimed": split.test[0], "impostor_speaker": split.test[1], "out": out,
    }  # fmt: skip
