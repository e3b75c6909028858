from lipauth.video.landmarks.base import LandmarkBackend, LandmarkTrack, available_backends, create_backend

__all__ = ["LandmarkBackend", "LandmarkTrack", "available_backends", "create_backend"]
