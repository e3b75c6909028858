"""CREMA-D: `ActorID_Sentence_Emotion_Level.flv`, e.g. `1001_DFA_ANG_XX.flv`.

Sentence codes (DFA = "Don't forget a jacket", ...) are the phrase; emotion is one of
ANG DIS FEA HAP NEU SAD; level is LO MD HI or XX (unspecified).
"""

from __future__ import annotations

import re
from pathlib import Path

from lipauth.clip import ClipMeta
from lipauth.corpora.base import VideoCorpus, register_corpus

NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")


@register_corpus("crema-d")
class CremaD(VideoCorpus):
    name = "crema-d"

    def parse(self, path: Path, root: Path) -> ClipMeta | None:
        m = NAME.match(path.stem)
        if m is None:
            return None
        return ClipMeta(
            clip_id=path.stem,
            speaker=m["actor"],
            phrase=m["sentence"],
            emotion=m["emotion"],
            intensity=m["level"],
            corpus=self.name,
            source=str(path),
        )
