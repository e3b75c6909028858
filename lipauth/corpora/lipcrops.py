"""Videos that already show only the mouth (no face to detect), laid out like `folder`:
`speaker/clip.ext` or `speaker/phrase/clip.ext`. Frames are trimmed to the crop's aspect
ratio and resized, as AVLetters' crops are."""

from __future__ import annotations

from lipauth.clip import LipClip
from lipauth.corpora.base import CorpusItem, register_corpus
from lipauth.corpora.folder import Folder
from lipauth.errors import TooFewFramesError
from lipauth.video.decode import decode_video
from lipauth.clip import CropSpec
from lipauth.video.roi import fit_crop_to_aspect

MIN_FRAMES = 5


@register_corpus("lipcrops")
class LipCrops(Folder):
    name = "lipcrops"
    needs_pipeline = False

    def load(self, item: CorpusItem, *, crop: CropSpec, pipeline=None) -> LipClip:
        video = decode_video(item.path)
        if video.n_frames < MIN_FRAMES:
            raise TooFewFramesError(f"{item.path}: {video.n_frames} frames, at least {MIN_FRAMES} needed")
        return LipClip(frames=fit_crop_to_aspect(video.grey if crop.color == "grey" else video.frames, crop), meta=item.meta, fps=video.fps, audio=video.audio)
