"""NUAA Photograph Imposter Database (Tan et al., ECCV 2010): bona fide and printed-photo
face images of 15 clients.

    ClientRaw/0001/0001_00_00_01_0.jpg    bona fide captures, one folder per client
    ImposterRaw/0001/0001_00_00_01_0.jpg  photo attacks of that client
    client_train_raw.txt, imposter_train_raw.txt, client_test_raw.txt, imposter_test_raw.txt
                                          one relative path per line (0001\\0001_00_00_01_0.jpg)

The "Face" variants (ClientFace/ImposterFace with *_face.txt lists) hold face crops, and the
"Normalized" ones (ClientNormalized/ImposterNormalized, *_normalized.txt: 64x64 greyscale,
aligned on the eyes, the release in ../shared/data/nuaa) likewise; both are read the same
way (`variant="face"` / `"normalized"`). Raw images are cropped to the face with dlib's
detector; the others are only resized. Every image becomes a 64x64 RGB crop (greyscale
images repeat their one channel).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lipauth.errors import CorpusError, EmptyCorpusError, InvalidInputError
from lipauth.pad.face_sample import FACE_SIZE as SIZE, FaceSample

SPLITS = ("train", "test")
VARIANTS = {"raw": "Raw", "face": "Face", "normalized": "Normalized"}  # variant -> folder suffix


def read_nuaa(root: str | Path, split: str, *, variant: str = "raw", detector=None) -> tuple[list[FaceSample], dict[str, str]]:
    """Samples of one split (one image each) and the failures (path -> reason)."""
    root = Path(root)
    if split not in SPLITS:
        raise InvalidInputError(f"split must be train or test, got {split!r}")
    if variant not in VARIANTS:
        raise InvalidInputError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    folder = VARIANTS[variant]
    samples, failures = [], {}
    for kind, bona_fide in (("client", True), ("imposter", False)):
        listing = root / f"{kind}_{split}_{variant}.txt"
        if not listing.is_file():
            raise CorpusError(f"{root}: no {listing.name}; is this the NUAA Imposter Database?")
        base = root / f"{kind.capitalize()}{folder}"
        for line in listing.read_text().splitlines():
            rel = line.strip().replace("\\", "/")
            if not rel:
                continue
            path = base / rel
            try:
                crop = _face_crop(path, variant, detector)
            except (CorpusError, InvalidInputError) as exc:
                failures[str(path)] = str(exc)
                continue
            samples.append(FaceSample(crop[None], client=rel.split("/")[0], bona_fide=bona_fide, attack=None if bona_fide else "print", source=str(path)))
    if not samples:
        raise EmptyCorpusError(f"{root}: no readable {split} images ({len(failures)} failed)")
    return samples, failures


def _face_crop(path: Path, variant: str, detector) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CorpusError(f"{path}: not a readable image")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if variant == "raw":
        if detector is None:
            import dlib

            detector = dlib.get_frontal_face_detector()
        faces = detector(img, 1)
        if not faces:
            raise CorpusError(f"{path}: no face found")
        f = max(faces, key=lambda r: r.width() * r.height())
        cx, cy, side = (f.left() + f.right()) / 2, (f.top() + f.bottom()) / 2, 1.25 * max(f.width(), f.height())
        scale = SIZE / side
        m = np.array([[scale, 0, SIZE / 2 - cx * scale], [0, scale, SIZE / 2 - cy * scale]], np.float32)
        return cv2.warpAffine(img, m, (SIZE, SIZE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
