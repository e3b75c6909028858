"""Get the LipClips of a corpus, from wherever they are: a folder made by `lipauth
preprocess` (has preprocess.json), a corpus of lip crops (AVLetters, loaded directly), or a
corpus of videos (preprocessed into `cache` first, resumably)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lipauth.corpora.cache import load_clip
from lipauth.clip import LipClip
from lipauth.corpora import get_corpus
from lipauth.errors import EmptyCorpusError, InvalidInputError, LipauthError
from lipauth.video.pipeline import PipelineConfig
from lipauth.clip import CropSpec


@dataclass
class Dataset:
    clips: list[LipClip]
    failures: dict[str, str] = field(default_factory=dict)  # clip id -> reason (FTA)

    @property
    def speakers(self) -> list[str]:
        return sorted({c.meta.speaker for c in self.clips})

    def of_speakers(self, speakers) -> list[LipClip]:
        keep = set(speakers)
        return [c for c in self.clips if c.meta.speaker in keep]


def load_dataset(data: str | Path, corpus: str, crop: CropSpec, *, backend: str = "dlib", cache: Path | None = None, workers: int = 1) -> Dataset:
    data = Path(data)
    if (data / "preprocess.json").exists():
        return _from_preprocessed(data, crop)
    reader = get_corpus(corpus)
    if reader.needs_pipeline:
        if cache is None:
            raise InvalidInputError(f"{data} holds videos: loading it needs a cache folder to preprocess into")
        from lipauth.corpora.preprocess import preprocess_corpus

        preprocess_corpus(data, cache, corpus, PipelineConfig(backend=backend, crop=crop), workers=workers)
        return _from_preprocessed(cache, crop)
    clips, failures = [], {}
    for item in reader.items(data):
        try:
            clips.append(reader.load(item, crop=crop))
        except LipauthError as exc:
            failures[item.meta.clip_id] = str(exc)
    return _checked(Dataset(clips, failures), data)


def _from_preprocessed(folder: Path, crop: CropSpec) -> Dataset:
    from lipauth.corpora.preprocess import read_manifest

    settings = json.loads((folder / "preprocess.json").read_text())
    made = settings["pipeline"]["crop"]
    if (made["width"], made["height"], made["color"]) != (crop.width, crop.height, crop.color):
        raise InvalidInputError(f"{folder} holds {made['width']}x{made['height']} {made['color']} crops; this model needs {crop.width}x{crop.height} {crop.color}")
    rows = read_manifest(folder / "manifest.csv")
    clips = [load_clip(folder / r["file"]) for r in rows.values() if r["status"] == "done"]
    failures = {cid: r["error"] for cid, r in rows.items() if r["status"] == "failed"}
    return _checked(Dataset(clips, failures), folder)


def _checked(ds: Dataset, where: Path) -> Dataset:
    if not ds.clips:
        raise EmptyCorpusError(f"{where}: no usable clips ({len(ds.failures)} failed)")
    missing = [c.meta.clip_id for c in ds.clips if not c.meta.speaker]
    if missing:
        raise InvalidInputError(f"{where}: {len(missing)} clips have no speaker label (e.g. {missing[0]}); verification needs one")
    return ds
