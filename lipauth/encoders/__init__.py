"""Pretrained encoders of who is speaking, other than the lips: the voice (GE2E) and the
face (dlib's ResNet). Each turns what the pipeline already extracted from a clip into one
L2-normalised vector, or None where the clip holds nothing it can use."""
