"""The spoken-phrase check: offline recognition of a challenge phrase (CMU PocketSphinx, its US English acoustic model
shipped inside the `pocketsphinx` wheel), constrained to the challenge grammar.

The question asked is narrower than "what was said": is the challenge phrase among what the
recogniser finds plausible? The recogniser decodes the grammar with wide beams and keeps its
N-best list; the phrase passes if it is in that list. On lipauth's GRID recordings this
accepts more right phrases than requiring the single best hypothesis to match (a reduced
"with" is often heard as "at", a letter as its neighbour), while a phrase the speaker did not
say is in the list almost never (benchmarks/spoken_challenge.py measures both).
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from lipauth.clip import AUDIO_RATE, LipClip
from lipauth.errors import BackendUnavailableError, InvalidInputError
from lipauth.pad import challenge_phrases as phrases
from lipauth.pad.checks import Check

N_BEST = 500
# Wider than PocketSphinx's defaults (1e-48, 7e-29, 1e-48): with a grammar this small the
# search stays fast, and the N-best list keeps the near misses a right phrase can be among.
BEAMS = {"beam": 1e-80, "wbeam": 1e-70, "pbeam": 1e-80, "maxhmmpf": -1}


@dataclass(frozen=True)
class Heard:
    """What the recogniser made of one utterance."""

    best: str  # the single best phrase ("" when nothing was decoded)
    n_best: tuple[str, ...]  # distinct phrases, best first

    def rank_of(self, phrase: str) -> int | None:
        """The phrase's place in the N-best list (0 = best), None if absent."""
        try:
            return self.n_best.index(phrase)
        except ValueError:
            return None

    def closest(self, phrase: str) -> tuple[str, int]:
        """The hypothesis sharing the most slots with `phrase`, and that number of slots."""
        want = phrase.split()
        pairs = [(h, sum(a == b for a, b in zip(h.split(), want))) for h in self.n_best]
        return max(pairs, key=lambda p: p[1], default=("", 0))


class PhraseRecogniser:
    def __init__(self) -> None:
        self._decoder  # load now: a missing package fails here, not mid-request

    @cached_property
    def _decoder(self):
        try:
            import pocketsphinx
        except ImportError as exc:
            raise BackendUnavailableError(f"spoken challenges need the pocketsphinx package ({exc})") from None
        model = Path(pocketsphinx.get_model_path()) / "en-us"
        with tempfile.TemporaryDirectory() as tmp:  # the decoder reads the dictionary at start-up
            dictionary = Path(tmp) / "challenge.dict"
            dictionary.write_text(phrases.pronunciations(model / "cmudict-en-us.dict"))
            decoder = pocketsphinx.Decoder(hmm=str(model / "en-us"), dict=str(dictionary), lm=None, samprate=AUDIO_RATE, loglevel="FATAL", **BEAMS)
        decoder.add_jsgf_string("challenge", phrases.jsgf())
        decoder.activate_search("challenge")
        return decoder

    def hear(self, audio: np.ndarray | None) -> Heard:
        """Decode one utterance: int16 mono at AUDIO_RATE, as a LipClip carries it."""
        if audio is None or len(audio) < AUDIO_RATE // 4:
            raise InvalidInputError("a spoken challenge needs the video's audio, and this one has none (or under 0.25 s)")
        audio = np.ascontiguousarray(audio, dtype=np.int16)
        d = self._decoder
        d.start_utt()
        d.process_raw(audio.tobytes(), no_search=False, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        n_best: list[str] = []
        for h in itertools.islice(d.nbest(), N_BEST):
            if h.hypstr and h.hypstr not in n_best:
                n_best.append(h.hypstr)
        return Heard(best=hyp.hypstr if hyp is not None else "", n_best=tuple(n_best))


class SpokenPhraseCheck:
    """Did the probe say this attempt's challenge phrase? Unlike the registered checks it
    needs the phrase of each attempt, so the verifier runs it when it is given one."""

    name = "spoken_phrase"

    def __init__(self, recogniser: PhraseRecogniser | None = None) -> None:
        self.recogniser = recogniser or PhraseRecogniser()

    def run(self, clip: LipClip, phrase: str) -> Check:
        """score: the words (of 6) the closest hypothesis shares with the phrase; passed when
        the phrase itself is among the hypotheses."""
        phrase = phrases.normalise(phrase)
        if clip.audio is None:
            return Check(self.name, 0.0, 6.0, False, "the video has no audio: the phrase cannot be heard")
        heard = self.recogniser.hear(clip.audio)
        rank = heard.rank_of(phrase)
        extra = {"phrase": phrase, "heard": heard.best, "rank": rank, "n_best": len(heard.n_best)}
        if rank is not None:
            return Check(self.name, 6.0, 6.0, True, f"'{phrase}' is hypothesis {rank + 1} of {len(heard.n_best)} (best heard: '{heard.best}')", extra=extra)
        _, shared = heard.closest(phrase)
        return Check(self.name, float(shared), 6.0, False, f"'{phrase}' was not heard (best heard: '{heard.best}'; closest hypothesis shares {shared} of 6 words)", extra=extra)
