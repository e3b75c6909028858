"""GRID: six-word command sentences, files named by their sentence code (`bbaf2n.mpg`:
command, colour, preposition, letter, digit, adverb).

Laid out as `sN/*.mpg` (the speaker is the folder), in a folder whose name ends in `-sN`
or `_sN` (e.g. `grid-s2/video/`), or flat. Files named `idN_vcd_CODE.mpg` (a common mirror's
naming) carry their speaker label `idN`. Where nothing names the speaker it is None.
"""

from __future__ import annotations

import re
from pathlib import Path

from lipauth.clip import ClipMeta
from lipauth.corpora.base import VideoCorpus, register_corpus

CODE = re.compile(r"^(?:(?P<label>id\d+)_vcd_)?(?P<code>[blps][bgrw][abiw][a-z][0-9z][anps])$")
SPEAKER_DIR = re.compile(r"(?:^|[-_])(s\d+)$")


@register_corpus("grid")
class Grid(VideoCorpus):
    name = "grid"

    def parse(self, path: Path, root: Path) -> ClipMeta | None:
        m = CODE.match(path.stem)
        if m is None:
            return None
        speaker = m["label"]
        if speaker is None:
            for part in reversed(path.relative_to(root.parent).parts[:-1]):
                d = SPEAKER_DIR.search(part)
                if d:
                    speaker = d.group(1)
                    break
        clip_id = f"{speaker}_{m['code']}" if speaker else m["code"]
        return ClipMeta(clip_id=clip_id, speaker=speaker, phrase=m["code"], corpus=self.name, source=str(path))
