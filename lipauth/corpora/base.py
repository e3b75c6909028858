"""What every corpus reader provides, and the registry that picks one by name.

A reader lists a corpus as `CorpusItem`s (metadata + where the clip lives) without opening
any file, and turns one item into a `LipClip` with `load`. Video corpora load through the
`LipPipeline`; corpora that ship lip crops (AVLetters) load directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lipauth.clip import ClipMeta, LipClip
from lipauth.errors import CorpusError, EmptyCorpusError, InvalidInputError
from lipauth.registry import Registry
from lipauth.clip import CropSpec

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".flv", ".mpg", ".mpeg", ".m4v")


@dataclass(frozen=True)
class CorpusItem:
    meta: ClipMeta
    path: Path


class CorpusReader(Protocol):
    name: str
    #: True when `load` needs the video pipeline (a landmark backend)
    needs_pipeline: bool

    def items(self, root: Path) -> list[CorpusItem]: ...

    def load(self, item: CorpusItem, *, crop: CropSpec, pipeline=None) -> LipClip: ...


class VideoCorpus:
    """Shared behaviour of corpora of face videos: list files, parse names, run the pipeline."""

    name = "video"
    needs_pipeline = True
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS

    def parse(self, path: Path, root: Path) -> ClipMeta | None:
        """Metadata from a file's name and place; None to skip the file."""
        raise NotImplementedError

    def items(self, root: Path) -> list[CorpusItem]:
        root = _existing_dir(root)
        found = []
        for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in self.extensions and p.is_file()):
            meta = self.parse(path, root)
            if meta is not None:
                found.append(CorpusItem(meta=meta, path=path))
        if not found:
            raise EmptyCorpusError(f"{root}: no {self.name} videos found ({', '.join(self.extensions)})")
        _check_unique(found, root)
        return found

    def load(self, item: CorpusItem, *, crop: CropSpec, pipeline=None) -> LipClip:
        if pipeline is None:
            raise InvalidInputError(f"corpus {self.name!r} is made of videos: loading it needs a LipPipeline")
        return pipeline.process(item.path, item.meta)


CORPORA = Registry("corpus", tuple(f"lipauth.corpora.{m}" for m in ("avletters", "cremad", "folder", "grid", "lipcrops", "talking_faces")))
register_corpus = CORPORA.register
corpus_names = CORPORA.names


def get_corpus(name: str) -> CorpusReader:
    return CORPORA.get(name)()


def _existing_dir(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"{root}: not a directory")
    return root


def _check_unique(items: list[CorpusItem], root: Path) -> None:
    seen: dict[str, Path] = {}
    for it in items:
        if it.meta.clip_id in seen:
            raise CorpusError(f"{root}: two files map to clip id {it.meta.clip_id!r}: {seen[it.meta.clip_id]} and {it.path}")
        seen[it.meta.clip_id] = it.path
