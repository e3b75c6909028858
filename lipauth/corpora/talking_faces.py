"""Talking faces with their own speech, one person per clip named in `manifest.csv`
(columns file, person, source, ...): the in-the-wild and studio clips of
../shared/data/talking-faces (VoxCeleb2, LRS3, MEAD, HDTF-style). People were matched across
clips by face, so a person may have clips from two sources."""

from __future__ import annotations

import csv
from pathlib import Path

from lipauth.clip import ClipMeta
from lipauth.corpora.base import VideoCorpus, register_corpus
from lipauth.errors import CorpusError


@register_corpus("talking-faces")
class TalkingFaces(VideoCorpus):
    name = "talking-faces"

    def __init__(self) -> None:
        self._people: dict[Path, dict[str, dict]] = {}

    def _manifest(self, root: Path) -> dict[str, dict]:
        if root not in self._people:
            path = root / "manifest.csv"
            if not path.is_file():
                raise CorpusError(f"{root}: no manifest.csv naming each clip's person")
            with path.open(newline="") as fh:
                self._people[root] = {row["file"]: row for row in csv.DictReader(fh)}
        return self._people[root]

    def parse(self, path: Path, root: Path) -> ClipMeta | None:
        row = self._manifest(root).get(path.relative_to(root).as_posix())
        if row is None:
            return None  # not in the manifest: nobody says who it is
        return ClipMeta(clip_id=path.stem, speaker=row["person"], corpus=self.name, source=str(path))
