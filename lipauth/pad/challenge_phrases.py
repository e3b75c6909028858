"""The challenge vocabulary: the GRID corpus grammar (Cooke et al., 2006).

A GRID sentence is six slots: command, colour, preposition, letter, digit, adverb
("bin blue at f two now"), 4 x 4 x 4 x 25 x 10 x 4 = 256,000 phrases. It was designed for
audio-visual speech recognition, so each slot's words are short, common and visibly
articulated, and lipauth's own GRID recordings can measure how well phrases are recognised.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from lipauth.errors import InvalidInputError

SLOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("command", ("bin", "lay", "place", "set")),
    ("colour", ("blue", "green", "red", "white")),
    ("preposition", ("at", "by", "in", "with")),
    ("letter", tuple("abcdefghijklmnopqrstuvxyz")),  # GRID has no "w"
    ("digit", ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")),
    ("adverb", ("again", "now", "please", "soon")),
)
# Spoken letter names (ARPAbet, as in CMUdict). CMUdict's "a" is also the article /AH/,
# which would let any reduced vowel stand for the letter.
LETTER_SOUNDS = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY", "h": "EY CH", "i": "AY",
    "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N", "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R",
    "s": "EH S", "t": "T IY", "u": "Y UW", "v": "V IY", "x": "EH K S", "y": "W AY", "z": "Z IY",
}  # fmt: skip
_DIGITS = {str(i): w for i, w in enumerate(SLOTS[4][1])}
# GRID file names code each slot by its first character ("bbaf2n"); the digit "z" is zero.
_FILE_CODES = {"z": "zero", **_DIGITS}


def random_phrase() -> str:
    """A phrase drawn uniformly from the grammar with the OS's secure random source."""
    return " ".join(secrets.choice(words) for _, words in SLOTS)


def normalise(text: str) -> str:
    """A typed or spoken phrase as the grammar spells it: lower case, digits as words.
    Raises InvalidInputError if it is not a phrase of the grammar."""
    words = [_DIGITS.get(w, w) for w in re.findall(r"[a-z0-9]+", str(text).lower())]
    if len(words) != len(SLOTS) or any(w not in options for w, (_, options) in zip(words, SLOTS)):
        raise InvalidInputError(f"{text!r} is not a challenge phrase: six words, one from each of " + "; ".join(f"{name} ({'/'.join(options[:4])}{'/...' if len(options) > 4 else ''})" for name, options in SLOTS))
    return " ".join(words)


def phrase_of_grid_file(path: str | Path) -> str:
    """The sentence a GRID recording says, from its file name ("bbaf2n.mpg" -> "bin blue at f
    two now"); prefixed names such as "id2_vcd_swwp2s.mpg" use their last part."""
    code = Path(path).stem.split("_")[-1].lower()
    if len(code) != 6:
        raise InvalidInputError(f"{path}: not a GRID file name (six slot codes such as 'bbaf2n')")
    words = []
    for c, (name, options) in zip(code, SLOTS):
        word = _FILE_CODES.get(c) if name == "digit" else (c if name == "letter" else next((w for w in options if w[0] == c), None))
        if word not in options:
            raise InvalidInputError(f"{path}: {c!r} is not a GRID {name} code")
        words.append(word)
    return " ".join(words)


def jsgf() -> str:
    """The grammar in JSGF, for the recogniser."""
    rules = "\n".join(f"<{name}> = {' | '.join(words)};" for name, words in SLOTS)
    return "#JSGF V1.0;\ngrammar challenge;\npublic <phrase> = " + " ".join(f"<{name}>" for name, _ in SLOTS) + ";\n" + rules + "\n"


def pronunciations(cmudict: Path) -> str:
    """A pronouncing dictionary of the grammar's words: CMUdict's variants for words, the
    letter names for letters."""
    words = {w for name, options in SLOTS if name != "letter" for w in options}
    lines = [line.strip() for line in cmudict.read_text().splitlines() if line.split(" ", 1)[0].split("(")[0] in words]
    return "\n".join(lines + [f"{letter} {sounds}" for letter, sounds in LETTER_SOUNDS.items()]) + "\n"
