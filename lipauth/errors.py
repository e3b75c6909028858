"""Typed errors. Every failure a person can act on has its own class and a one-line message.

`FailureToAcquire` and its subclasses are the biometric "failure to acquire" (FTA): the input
was readable but no usable lip clip came out of it. Batch jobs record them and carry on;
evaluation counts them.
"""

from __future__ import annotations


class LipauthError(Exception):
    """Base class of every error lipauth raises on purpose."""

    #: short machine-readable code, written to manifests and JSON answers
    code = "error"


class InvalidInputError(LipauthError, ValueError):
    """An argument has the wrong type, shape or value."""

    code = "invalid_input"


class VideoDecodeError(LipauthError):
    """The file cannot be read as a video (not a video, unreadable, corrupt)."""

    code = "unreadable_video"


class TruncatedVideoError(VideoDecodeError):
    """The file decodes, but stops well short of the duration its header declares."""

    code = "truncated_video"


class VideoTooLongError(InvalidInputError):
    """Longer than the pipeline's `max_seconds`: frames are held in memory, so a cap keeps a
    long high-resolution video from exhausting it."""

    code = "too_long"


class VideoTooLargeError(InvalidInputError):
    """Frames larger, or more pixels per second, than the decoder's InputLimits accept."""

    code = "too_large"


class CorpusError(LipauthError):
    """A corpus folder is missing, empty, or laid out differently from what its reader expects."""

    code = "corpus_error"


class EmptyCorpusError(CorpusError):
    code = "empty_corpus"


class FailureToAcquire(LipauthError):
    """The input was readable but gave no usable lip clip."""

    code = "fta"


class NoFaceError(FailureToAcquire):
    code = "no_face"


class TooFewFramesError(FailureToAcquire):
    code = "too_few_frames"


class LandmarkGapError(FailureToAcquire):
    """Landmarks were missing on too many frames, or on too long a run of frames."""

    code = "landmark_gap"


class BackendUnavailableError(LipauthError):
    """A landmark backend was asked for but its package or model file is not installed."""

    code = "backend_unavailable"


class UnknownUserError(LipauthError):
    code = "unknown_user"


class StoreError(LipauthError):
    """The template store cannot be opened or used (bad URL, newer schema, damaged row)."""

    code = "store_error"


class StoreKeyError(StoreError):
    """The store was encrypted with another key."""

    code = "wrong_store_key"


class PassphraseRequiredError(InvalidInputError):
    """The user enrolled a passphrase and the attempt gave none."""

    code = "passphrase_required"


class FailureToEnrol(LipauthError):
    """Enrolment was refused: a clip failed to acquire, or too few clips were given.
    Nothing was written to the store."""

    code = "fte"


class ChallengeError(LipauthError):
    """A spoken challenge is unknown, already used, expired, or issued to another user."""

    code = "challenge_refused"


class TokenError(LipauthError):
    """A page's token (lipauth.auth.tokens) is missing, unknown, of another scope, used or
    expired."""

    code = "token_refused"


class RetryLaterError(LipauthError):
    """Refused for now: `retry_after_s` says when to try again (the service's Retry-After)."""

    code = "retry_later"

    def __init__(self, message: str, retry_after_s: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitedError(RetryLaterError):
    """Too many requests from one client to a public endpoint; try again later."""

    code = "rate_limited"


class StoreExistsError(StoreError):
    """Enrolment would overwrite an enrolled user; ask to replace or add explicitly."""

    code = "already_enrolled"


class StoreNotFoundError(StoreError):
    """The template store (or its key file) named does not exist."""

    code = "store_not_found"


class TooManyAttemptsError(RetryLaterError):
    """Verification of this user is locked for a cool-down after too many failed attempts."""

    code = "too_many_attempts"
