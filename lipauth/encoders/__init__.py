"""Pretrained encoders of who is speaking, other than the lips: the voice (GE2E) and the
face (dlib's ResNet). Each turns what the pipeline already extracted from a clip into one
L2-normalised vector, or None where the clip holds nothing it can use. They register by
modality name, as models, corpora, checks and recipes do; a new modality is an encoder
registered here (`@ENCODERS.register("name")`) and fusion rules that name it."""

from lipauth.registry import Registry

ENCODERS = Registry("encoder", ("lipauth.encoders.voice", "lipauth.encoders.face"))


def create_encoder(name: str):
    """The encoder of a modality other than the lips ("voice", "face", or one registered)."""
    return ENCODERS.get(name)()
