"""One call each, as face_recognition's `compare_faces` and DeepFace's `verify` / `find`:
two videos, or one video against a folder of videos, with the bundled model by default and no
template store. Each answer is the one `Decision` (lipauth.auth.decision) verify gives.

    import lipauth
    d = lipauth.verify_files("a.mp4", "b.mp4")        # d.accepted, d.llr, d.modality_scores, d.checks
    ranked = lipauth.find("probe.mp4", "people/")     # people/alice/*.mp4 or people/alice.mp4 ...
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lipauth.errors import InvalidInputError, LipauthError

VIDEO_SUFFIXES = {".mp4", ".mpg", ".mpeg", ".avi", ".mov", ".mkv", ".flv", ".webm"}


def verify_files(a: str | os.PathLike, b: str | os.PathLike, *, model=None, operating_point: str | float = "eer", modalities: tuple[str, ...] | None = None, liveness: bool = False):
    """Are the people in videos `a` and `b` the same? A Decision against `a` as a one-clip
    template: accepted, the LLR and its threshold, each modality's score (the lips' in
    `score`), and with liveness=True the presentation-attack checks on both videos.
    model: a LipModel or a model file (None: the bundled one, fused lips + voice + face)."""
    from lipauth.auth.compare import compare
    from lipauth.pad.checks import PresentationChecks

    return compare(_model(model), a, b, operating_point=operating_point, modalities=modalities, checks=PresentationChecks.load() if liveness else None)


def find(video: str | os.PathLike, folder: str | os.PathLike, *, model=None, operating_point: str | float = "eer", modalities: tuple[str, ...] | None = None, k: int | None = None):
    """The people of `folder` ranked by how likely `video` shows them, best first, without a
    store: each person is a sub-folder of videos (`folder/alice/*.mp4`, enrolled as a
    template of several clips) or a single video (`folder/alice.mp4`). Returns Decisions (the
    user is the person's name; accepted: a match at the operating point). Videos that fail
    are skipped; a person none of whose videos could be read is left out."""
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: no such folder")
    people = _people(folder)
    if not people:
        raise InvalidInputError(f"{folder}: no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) in it or its sub-folders")
    with tempfile.TemporaryDirectory(prefix="lipauth-find-") as tmp:  # a throwaway store, its key beside it
        store = TemplateStore(Path(tmp) / "templates.db", create=True)
        verifier = Verifier(_model(model), store, operating_point=operating_point, modalities=modalities, attempts=False, audit=False)
        for name, videos in people.items():
            readable = []
            for v in videos:
                try:
                    readable.append(verifier.model.clip(v, audio=verifier.modal.needs_audio, face_chips=verifier.modal.face_chips))
                except LipauthError:
                    continue
            if readable:
                try:
                    verifier.enroll(name, readable)
                except LipauthError:  # clips of a person that do not agree: the person is left out
                    continue
        found = verifier.identify(video, k or len(people))
        store.engine.dispose()
        return found


def _people(folder: Path) -> dict[str, list[Path]]:
    out = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            videos = sorted(p for p in entry.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if videos:
                out[entry.name] = videos
        elif entry.suffix.lower() in VIDEO_SUFFIXES:
            out[entry.stem] = [entry]
    return out


def _model(model):
    from lipauth.api import LipModel, load_model

    return model if isinstance(model, LipModel) else load_model(model)
