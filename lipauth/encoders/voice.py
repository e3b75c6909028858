"""The voice beside the lips: the GE2E speaker encoder (Wan et al. 2018; 256-d, 40 mel bands)
that Resemblyzer trained and ships, run by lipauth.encoders.ge2e with its weights (Apache-2.0)
in lipauth/assets/ge2e.pt, on the clip's own audio: raised to -30 dBFS where quieter, its
silences longer than ~0.2 s removed (webrtcvad, aggressiveness 3), then embedded.

Resemblyzer's encoder was trained on LibriSpeech train-other, VoxCeleb1 and VoxCeleb2 (dev):
VoxCeleb2 people in a test set may be people it has heard.
"""

from __future__ import annotations

import numpy as np

from lipauth.clip import AUDIO_RATE, LipClip
from lipauth.encoders import ENCODERS
from lipauth.errors import BackendUnavailableError

DIM = 256
GE2E_RATE = 16000  # the rate GE2E's front end works at (lipauth's AUDIO_RATE too)
MIN_SPEECH_S = 0.5  # less voiced audio than this after trimming is no voice to embed


@ENCODERS.register("voice")
class VoiceEncoder:
    name = "voice"
    dim = DIM
    needs_audio = True  # what the pipeline must keep for it (lipauth.auth.modalities)
    face_chips = 0
    missing = "no speech in the audio"  # why embed gave None

    def __init__(self) -> None:
        try:
            import librosa  # noqa: F401  (the mel front end)
            import webrtcvad  # noqa: F401  (the silences)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BackendUnavailableError("the voice encoder needs librosa and webrtcvad-wheels (dependencies of lipauth)") from exc
        from lipauth.encoders.ge2e import load_ge2e

        self._net, self.model_id = load_ge2e()

    def embed_wave(self, wave: np.ndarray, rate: int = AUDIO_RATE) -> np.ndarray | None:
        """int16 or float samples at `rate` -> the L2-normalised utterance vector; None where
        fewer than MIN_SPEECH_S seconds of speech remain after trimming silences."""
        audio = np.asarray(wave)
        audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
        from lipauth.encoders.ge2e import embed_speech, louder, speech_only

        if rate != GE2E_RATE:
            import librosa

            audio = librosa.resample(audio, orig_sr=rate, target_sr=GE2E_RATE)
        speech = speech_only(louder(audio))
        if len(speech) < MIN_SPEECH_S * GE2E_RATE:
            return None
        import torch

        # one utterance's LSTM on one thread: on two, it took 11 or ~100 ms from one call to the
        # next (the second thread's wake-up), on one a steady 15 (measured 2026-12-03, 10 calls
        # after a fresh clip each). OpenMP keeps the setting per thread, so two requests at
        # once each restore their own
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embed_speech(self._net, speech)
        finally:
            torch.set_num_threads(threads)

    def warm_up(self) -> None:
        """Run the mel front end and the network once: librosa compiles its functions on
        first use (~1.2 s), which a long-lived process should pay before its first request."""
        from lipauth.encoders.ge2e import embed_speech

        embed_speech(self._net, np.zeros(2 * GE2E_RATE, np.float32))

    def embed(self, clip: LipClip) -> np.ndarray | None:
        """The clip's voice vector, or None where it has no audio or too little speech."""
        if clip.audio is None or not len(clip.audio):
            return None
        return self.embed_wave(clip.audio)
