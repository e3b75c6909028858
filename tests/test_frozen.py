import numpy as np
import pytest
import torch

from lipauth.models.frozen import frozen_network


def test_the_bundled_network_frozen_gives_its_own_embeddings(grid_video):
    """freeze_for_inference (the service's way): embeddings equal to the eager network's,
    for clips of other lengths than the one it was traced on."""
    from lipauth.api import load_model

    eager, fast = load_model(), load_model()
    fast.embedder.freeze_for_inference()
    clip = eager.clip(grid_video, audio=False)
    short = type(clip)(frames=clip.frames[:40], meta=clip.meta, fps=clip.fps, landmarks=clip.landmarks[:40], boxes=clip.boxes[:40])
    first = fast.embedder.embed_clips([clip])
    assert isinstance(fast.embedder._frozen, torch.jit.ScriptModule)  # frozen TorchScript, not the eager module
    for clips in ([clip], [short], [clip, short]):
        assert np.abs(fast.embedder.embed_clips(clips) - eager.embedder.embed_clips(clips)).max() < 1e-4
    assert np.array_equal(first, fast.embedder.embed_clips([clip]))


class _Untraceable(torch.nn.Module):
    def forward(self, batch):
        return {"not": "a tensor"}  # tracing needs tensors out


class _Drifting(torch.nn.Module):
    """Each call returns something else: a frozen copy cannot give the same output."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, batch):
        self.calls += 1
        return batch["video"] * float(self.calls)


@pytest.mark.parametrize("net", [_Untraceable(), _Drifting()])
def test_a_network_that_cannot_be_frozen_stays_eager(net, caplog):
    example = {"video": torch.ones(1, 1, 4, 3, 3)}
    assert frozen_network(net, example) is None
    assert "runs eagerly" in caplog.text


def test_the_av_sync_streams_frozen_give_the_same_sync_analysis(grid_video):
    """The service freezes the AV-synchrony model's streams too: the same score, offset and
    distances as the eager networks, on a real clip and on its first half."""
    from lipauth.api import load_model
    from lipauth.pad.av_sync_check import av_sync_check

    clip = load_model().clip(grid_video, audio=True)
    eager, fast = av_sync_check().model, av_sync_check().model
    fast.freeze_for_inference()
    half = type(clip)(frames=clip.frames[:40], meta=clip.meta, fps=clip.fps, audio=clip.audio[: len(clip.audio) * 40 // clip.n_frames], landmarks=clip.landmarks[:40])
    for c in (clip, half):
        a, b = eager.analyse(c), fast.analyse(c)
        assert b.score == pytest.approx(a.score, abs=1e-3) and b.best_offset == a.best_offset
        assert np.allclose(a.distances, b.distances, atol=1e-4)
    assert isinstance(fast._frozen[0][0], torch.jit.ScriptModule)


def test_one_call_prepares_a_verifier_for_serving(tmp_path, grid_video):
    """Verifier.prepare_for_serving, what the service calls at start: the index built, the lip
    and AV-synchrony networks set to freeze, the other modalities' encoders loaded, numpy's
    BLAS on one thread (its idle threads spin on the cores a verify needs), the decoding in
    a child process."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from lipauth.api import load_model
    from lipauth.auth.store import TemplateStore
    from lipauth.auth.verifier import Verifier

    verifier = Verifier(load_model(), TemplateStore(tmp_path / "t.db", create=True), attempts=False, audit=False)
    assert verifier.index is None and verifier.model.embedder._frozen is None
    blas = {i["prefix"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert verifier.prepare_for_serving() is verifier
    assert blas and all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
    from lipauth.video.decode_process import DecoderProcess, shared

    assert verifier.model.pipeline.decoder is (shared() if DecoderProcess.available() else None)  # frames decoded in a child
    threadpool_limits(blas)  # the other tests run as before
    assert verifier.index is not None and isinstance(verifier.model.embedder._frozen, torch.jit.ScriptModule)  # traced now, not at the first request
    assert verifier.checks["av_sync"].model._frozen is False
    assert set(verifier.modal._encoders) == set(verifier.modal.extra) == {"voice", "face"}  # loaded now, not at the first request
    # traced on a blank clip, the frozen network embeds a real one as the network itself does
    assert np.allclose(verifier.model.embed(grid_video), load_model().embed(grid_video), atol=1e-5)
