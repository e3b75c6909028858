"""Pretrained encoders of who is speaking, other than the lips: the voice (GE2E) and the
face (dlib's ResNet). Each turns what the pipeline already extracted from a clip into one
L2-normalised vector, or None where the clip holds nothing it can use."""


def create_encoder(name: str):
    """The encoder of a modality other than the lips: "voice" or "face"."""
    if name == "voice":
        from lipauth.encoders.voice import VoiceEncoder

        return VoiceEncoder()
    if name == "face":
        from lipauth.encoders.face import FaceEncoder

        return FaceEncoder()
    from lipauth.errors import InvalidInputError

    raise InvalidInputError(f"no encoder for the modality {name!r} (voice, face)")
