"""The names of operating points, scorings and modalities, and their checks: apart from the
policy so that the command line can refuse a wrong one before it imports NumPy (or anything
else)."""

from __future__ import annotations

from lipauth.errors import InvalidInputError

OPERATING_POINTS = ("eer", "fmr_1pct", "fmr_0.1pct")
SCORINGS = ("raw", "normalised")
MODALITIES = ("lips", "voice", "face")  # the lips always; the others where a model's fusion has them


def in_order(names) -> tuple[str, ...]:
    """Modality names in their one order: the lips, the voice, the face, then any other
    (an encoder registered beside them) alphabetically. Fusion rules are keyed by it."""
    names = set(names)
    return tuple(m for m in MODALITIES if m in names) + tuple(sorted(names - set(MODALITIES)))


def parse_operating_point(point: str | float) -> str | float:
    """A named operating point, or a number (a raw cosine threshold): "0.75" is the number."""
    if isinstance(point, (int, float)) and not isinstance(point, bool):
        return float(point)
    try:
        return float(point)
    except (TypeError, ValueError):
        if point not in OPERATING_POINTS:
            raise InvalidInputError(f"operating point must be one of {', '.join(OPERATING_POINTS)} or a number, got {point!r}") from None
        return point


def check_point_for_modalities(point: str | float, modalities: tuple[str, ...] | None) -> None:
    """A number is a threshold on the lips' cosine: it cannot decide with other modalities."""
    if isinstance(point, float) and modalities is not None and len(modalities) > 1:
        raise InvalidInputError("a numeric operating point is a threshold on the lips' cosine; with other modalities, name an operating point (eer, fmr_1pct, fmr_0.1pct)")


SPELLINGS = {"normalized": "normalised"}  # both spellings name the one scoring


def parse_scoring(scoring: str | None) -> str | None:
    """raw or normalised (also spelt normalized); None stays None (the model's recommendation)."""
    if scoring is None:
        return None
    scoring = SPELLINGS.get(scoring, scoring)
    if scoring not in SCORINGS:
        raise InvalidInputError(f"scoring must be raw or normalised, got {scoring!r}")
    return scoring


def parse_modalities(text: str | None, known: tuple[str, ...] = MODALITIES) -> tuple[str, ...] | None:
    """ "lips,voice,face" -> ("lips", "voice", "face"), in_order; the lips are always one.
    known: the names allowed (the built-in ones; add registered encoders' names)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if any(n not in known for n in names) or "lips" not in names:
        raise InvalidInputError(f"modalities are a comma-separated choice of {', '.join(known)}, lips included; got {text!r}")
    return in_order(names)
