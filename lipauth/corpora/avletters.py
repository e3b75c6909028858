"""AVLetters (Matthews et al., 2002): 10 speakers (7 in the shared data) x 26 letters x 3
repetitions, shipped as mouth-region crops plus HTK MFCC files.

    Lips/A1_Anya-lips.mat           vid: uint8 (4800, T), siz: [60, 80, T]
    Audio/mfcc/Clean/A1_Anya.mfcc   HTK, MFCC_E_D, 26 coefficients at 50 Hz, 2T-1 frames

The MATLAB array is column-major: `vid.reshape(80, 60, T).transpose(2, 1, 0)` gives
upright (T, 60, 80) frames. There are no landmarks in this corpus.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from lipauth.clip import ClipMeta, LipClip
from lipauth.corpora.base import CorpusItem, register_corpus
from lipauth.errors import CorpusError, EmptyCorpusError, InvalidInputError
from lipauth.clip import CropSpec
from lipauth.video.roi import fit_crop_to_aspect

FPS = 25.0
NAME = re.compile(r"^(?P<letter>[A-Z])(?P<rep>\d+)_(?P<speaker>[A-Za-z]+)-lips$")
HTK_PARMKIND_BASE = {6: "MFCC"}


@register_corpus("avletters")
class AVLetters:
    name = "avletters"
    needs_pipeline = False

    def items(self, root: Path) -> list[CorpusItem]:
        lips = _lips_dir(Path(root))
        found = []
        for path in sorted(lips.glob("*.mat")):
            m = NAME.match(path.stem)
            if m is None:
                continue
            found.append(
                CorpusItem(
                    meta=ClipMeta(
                        clip_id=f"{m['letter']}{m['rep']}_{m['speaker']}",
                        speaker=m["speaker"],
                        phrase=m["letter"],
                        repetition=int(m["rep"]),
                        corpus=self.name,
                        source=str(path),
                    ),
                    path=path,
                )
            )
        if not found:
            raise EmptyCorpusError(f"{lips}: no AVLetters files (LETTERrep_Speaker-lips.mat)")
        return found

    def load(self, item: CorpusItem, *, crop: CropSpec, pipeline=None) -> LipClip:
        frames = read_lips_mat(item.path)
        mfcc_path = _mfcc_path(item.path, item.meta.clip_id)
        features = read_htk(mfcc_path) if mfcc_path is not None else None
        return LipClip(
            frames=fit_crop_to_aspect(frames, crop),
            meta=item.meta,
            fps=FPS,
            audio_features=features,
            audio_features_rate=50.0 if features is not None else None,
        )


def read_lips_mat(path: Path) -> np.ndarray:
    """(T, 60, 80) uint8 upright grey frames from an AVLetters `-lips.mat` file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except (OSError, ValueError, NotImplementedError) as exc:
        raise CorpusError(f"{path}: not a readable MATLAB file ({exc})") from exc
    if "vid" not in mat or "siz" not in mat:
        raise CorpusError(f"{path}: expected variables 'vid' and 'siz', found {sorted(k for k in mat if not k.startswith('__'))}")
    h, w, t = (int(v) for v in np.asarray(mat["siz"]).ravel()[:3])
    vid = np.asarray(mat["vid"])
    if vid.shape != (h * w, t):
        raise CorpusError(f"{path}: 'vid' has shape {vid.shape}, but siz says {h}x{w}x{t}")
    return np.ascontiguousarray(vid.reshape(w, h, t).transpose(2, 1, 0)).astype(np.uint8)


def read_htk(path: Path) -> np.ndarray:
    """Frames x coefficients float32 from an HTK parameter file (big-endian, 12-byte header)."""
    raw = Path(path).read_bytes()
    if len(raw) < 12:
        raise CorpusError(f"{path}: too short for an HTK header ({len(raw)} bytes)")
    n_samples, _period, sample_size, parm_kind = struct.unpack(">iihh", raw[:12])
    if parm_kind & 0o2000:  # _C: compressed, not used by AVLetters
        raise CorpusError(f"{path}: compressed HTK files are not supported")
    if sample_size <= 0 or sample_size % 4 or len(raw) - 12 != n_samples * sample_size:
        raise CorpusError(f"{path}: HTK header says {n_samples} x {sample_size} bytes, file holds {len(raw) - 12}")
    data = np.frombuffer(raw, dtype=">f4", offset=12).reshape(n_samples, sample_size // 4)
    return data.astype(np.float32)


def _lips_dir(root: Path) -> Path:
    if (root / "Lips").is_dir():
        return root / "Lips"
    if root.is_dir():
        return root
    raise CorpusError(f"{root}: not a directory")


def _mfcc_path(mat_path: Path, clip_id: str) -> Path | None:
    """Audio/mfcc/Clean/<clip_id>.mfcc beside the Lips folder, if present."""
    base = mat_path.parent.parent if mat_path.parent.name == "Lips" else mat_path.parent
    candidate = base / "Audio" / "mfcc" / "Clean" / f"{clip_id}.mfcc"
    return candidate if candidate.is_file() else None


def check_alignment(clip: LipClip) -> None:
    """AVLetters' MFCCs run at twice the video rate: 2T-1 feature frames for T video frames."""
    if clip.audio_features is None:
        raise InvalidInputError(f"{clip.meta.clip_id}: no MFCCs")
    expected = 2 * clip.n_frames - 1
    if clip.audio_features.shape[0] != expected:
        raise CorpusError(f"{clip.meta.clip_id}: {clip.audio_features.shape[0]} MFCC frames for {clip.n_frames} video frames (expected {expected})")
