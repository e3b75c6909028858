"""A generic folder of videos: `speaker/clip.ext`, or `speaker/phrase/clip.ext` when the
clips are grouped by what is said."""

from __future__ import annotations

from pathlib import Path

from lipauth.clip import ClipMeta
from lipauth.corpora.base import VideoCorpus, register_corpus


@register_corpus("folder")
class Folder(VideoCorpus):
    name = "folder"

    def parse(self, path: Path, root: Path) -> ClipMeta | None:
        parts = path.relative_to(root).parts
        if len(parts) not in (2, 3):
            return None  # loose files at the top, or deeper nesting, are not this layout
        speaker = parts[0]
        phrase = parts[1] if len(parts) == 3 else None
        clip_id = "_".join(p for p in (*parts[:-1], path.stem))
        return ClipMeta(clip_id=clip_id, speaker=speaker, phrase=phrase, corpus=self.name, source=str(path))
