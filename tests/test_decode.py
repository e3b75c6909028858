import numpy as np
import pytest

from lipauth.clip import AUDIO_RATE
from lipauth.errors import TruncatedVideoError, VideoDecodeError, VideoTooLongError
from lipauth.video.decode import decode_video
from lipauth.video.encode import write_video
from tests.conftest import mux_frames, need, video_stream, write_with_audio_starting_at


@pytest.mark.parametrize(
    "relative, n_frames, fps",
    [
        ("crema-d-sample/1001_DFA_ANG_XX.flv", 67, 29.97),  # FLV: VP6 + MP3
        ("grid-sample/lwbsza.mpg", 75, 25.0),  # MPEG-1 + MP2
        ("grid-s2/video/bbilzs.mpg", 75, 25.0),  # MPEG-1 720x576
    ],
)
def test_real_containers_decode_with_audio_at_16k(relative, n_frames, fps):
    video = decode_video(need(relative))
    assert video.n_frames == n_frames
    assert video.fps == pytest.approx(fps, abs=0.01)
    assert video.frames.dtype == np.uint8 and video.frames.ndim == 4 and video.frames.shape[-1] == 3
    # 16 kHz mono audio lasting as long as the video, within a frame or two
    assert video.audio.dtype == np.int16 and video.audio.ndim == 1
    assert abs(len(video.audio) / AUDIO_RATE - n_frames / fps) < 0.1


@pytest.mark.parametrize("ext", [".mp4", ".avi", ".mkv"])
def test_made_containers_roundtrip(tmp_path, grid_decoded, ext):
    """MP4/H.264, AVI (MPEG-4 part 2) and MKV made from a real clip decode back to the same
    frames (up to compression), rate and audio length."""
    path = write_video(tmp_path / f"clip{ext}", grid_decoded.frames, grid_decoded.fps, grid_decoded.audio)
    video = decode_video(path)
    assert video.n_frames == grid_decoded.n_frames
    assert video.fps == pytest.approx(25.0)
    h, w = video.frames.shape[1:3]
    err = np.abs(video.frames.astype(int) - grid_decoded.frames[:, :h, :w].astype(int)).mean()
    assert err < 8, f"mean abs error {err:.1f} grey levels after re-encoding"
    assert abs(len(video.audio) - len(grid_decoded.audio)) < 0.1 * AUDIO_RATE


def test_video_without_audio_track(tmp_path, grid_decoded):
    video = decode_video(write_video(tmp_path / "mute.mp4", grid_decoded.frames[:20], 25.0))
    assert video.audio is None and video.n_frames == 20


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video")
    with pytest.raises(VideoDecodeError, match="not a readable video"):
        decode_video(path)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoDecodeError, match="empty"):
        decode_video(empty)
    with pytest.raises(VideoDecodeError, match="no such file"):
        decode_video(tmp_path / "nowhere.mp4")


def test_audio_only_file_is_not_a_video():
    with pytest.raises(VideoDecodeError, match="no video stream"):
        decode_video(need("grid-s2/video/bbaf2a.wav"))


def test_truncated_flv_is_detected(tmp_path):
    raw = need("crema-d-sample/1001_DFA_ANG_XX.flv").read_bytes()
    cut = tmp_path / "cut.flv"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(TruncatedVideoError, match="truncated"):
        decode_video(cut)


def test_header_only_file_fails(tmp_path):
    raw = need("crema-d-sample/1001_DFA_ANG_XX.flv").read_bytes()
    cut = tmp_path / "stub.flv"
    cut.write_bytes(raw[:2000])
    with pytest.raises(VideoDecodeError):
        decode_video(cut)


def test_damaged_packets_are_skipped_like_ffmpeg():
    """grid-s2/bbaf2a.mpg has damaged packets near its end; ffmpeg skips them, so do we."""
    video = decode_video(need("grid-s2/video/bbaf2a.mpg"))
    assert 70 <= video.n_frames <= 75


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_phone_videos_with_a_display_rotation_come_out_upright(tmp_path, grid_decoded, degrees):
    """A phone stores portrait video as landscape pictures plus a display matrix. Here the
    picture is stored turned the other way (as the sensor saw it) with a matrix that turns
    it back; decoding must give the upright frames, and the pipeline must find the face."""
    import av

    from lipauth.video.pipeline import LipPipeline, PipelineConfig

    upright = grid_decoded.frames[:12]
    stored = np.rot90(upright, -degrees // 90, axes=(1, 2))  # what the camera wrote
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as c:
        s = video_stream(c, "mpeg4", 25, stored)
        s.set_display_rotation(degrees)
        mux_frames(c, s, stored)
    v = decode_video(path)
    assert v.frames.shape[1:] == upright.shape[1:]
    assert np.abs(v.frames.astype(int) - upright).mean() < 6  # the codec's loss, not a turned picture
    assert LipPipeline(PipelineConfig()).process(path).n_frames == 12
    # scaled down as it is decoded (libswscale makes a new frame): still turned upright
    import cv2

    small = decode_video(path, max_pixels=200 * 160)
    h, w = small.grey.shape[1:]
    assert (h < w) == (upright.shape[1] < upright.shape[2])
    expected = cv2.resize(cv2.cvtColor(upright[5], cv2.COLOR_RGB2GRAY), (w, h), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(small.grey[5].astype(int) - expected).mean() < 8


def test_high_frame_rate_video_is_brought_near_the_models_rate(tmp_path, grid_decoded):
    """50 fps (every frame twice) with near_fps=27.5 decodes as every 2nd frame at 25 fps:
    the original frames, and the audio whole; without near_fps it stays at 50 fps."""
    n = 30
    original = grid_decoded.frames[:n]
    audio = grid_decoded.audio[: n * AUDIO_RATE // 25]
    path = write_video(tmp_path / "fast.avi", np.repeat(original, 2, axis=0), 50.0, audio)
    full = decode_video(path)
    assert full.fps == pytest.approx(50) and full.n_frames == 2 * n
    v = decode_video(path, near_fps=27.5)
    assert v.fps == pytest.approx(25) and v.n_frames == n
    assert np.abs(v.frames.astype(int) - original).mean() < 6
    assert len(v.audio) == len(full.audio)
    assert decode_video(need("grid-s2/video/bbaf2a.mpg"), near_fps=27.5).fps == 25  # already in range: untouched


def _browser_webm(path, frames):
    """A VP8 WebM at 25 fps whose header declares 1000 fps, as MediaRecorder's do."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as c:
        s = video_stream(c, "libvpx", 1000, frames)
        s.codec_context.time_base = Fraction(1, 1000)
        mux_frames(c, s, frames, ms_per_frame=40)
    return path


def test_a_webm_that_declares_its_clock_rate_decodes_at_its_frame_rate(tmp_path, grid_decoded):
    """Browser recordings (MediaRecorder WebM) can declare 1000 fps, their millisecond clock;
    the frames' timestamps say 25. Taken at its word, such a video would be refused as
    truncated (or thinned to nothing); the timestamps win when they disagree by > 25 %."""
    import av

    path = _browser_webm(tmp_path / "browser.webm", grid_decoded.frames[:40])
    with av.open(str(path)) as c:
        assert float(c.streams.video[0].average_rate) == 1000  # the header is wrong, as a browser's is
    v = decode_video(path, near_fps=27.5)
    assert v.fps == pytest.approx(25, rel=0.01) and v.n_frames == 40
    # the frames' array is reserved from the measured rate, not the header's 1000 fps
    assert v.grey.base is None or v.grey.base.nbytes <= (30 * 25 + 16) * v.grey[0].nbytes
    with pytest.raises(VideoTooLongError):  # 1.56 s by the timestamps, not 0.04 s by the header
        decode_video(path, max_seconds=1.0)


def test_audio_that_starts_after_the_video_is_placed_where_it_plays(tmp_path, grid_decoded):
    """The container says the audio starts 0.3 s after the first frame (as a player shows
    it); decoding puts 0.3 s of silence in front, so the speech lines up with the mouth."""
    n = int(0.3 * AUDIO_RATE)
    original = grid_decoded.audio
    v = decode_video(write_with_audio_starting_at(tmp_path / "late_start.mkv", grid_decoded.frames, original[n:], 0.3))
    assert np.abs(v.audio[: n - 100]).max() == 0
    a, b = v.audio[n : n + AUDIO_RATE].astype(float), original[n : n + AUDIO_RATE].astype(float)
    assert np.corrcoef(a, b)[0, 1] > 0.9  # the same samples at the same times (AAC is lossy)


def test_large_frames_are_scaled_down_as_they_are_decoded(tmp_path, grid_decoded):
    """max_pixels keeps the picture's shape and its content: a 720x576 frame at 640x360
    pixels comes out 536x428, the same image at that size."""
    import cv2

    big = np.stack([cv2.resize(f, (720, 576), interpolation=cv2.INTER_CUBIC) for f in grid_decoded.frames[:12]])
    path = write_video(tmp_path / "big.mp4", big, 25.0)
    v = decode_video(path, max_pixels=640 * 360)
    assert v.frames.shape == (12, 428, 536, 3) and 428 * 536 <= 640 * 360
    expected = cv2.resize(big[5], (536, 428), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(v.frames[5].astype(int) - expected).mean() < 6  # the codec's loss, not another picture
    assert decode_video(path, max_pixels=720 * 576).frames.shape == (12, 576, 720, 3)  # small enough: untouched


def test_pictures_beyond_the_limits_are_refused_before_decoding(tmp_path, grid_decoded):
    from lipauth.errors import VideoTooLargeError
    from lipauth.video.decode import InputLimits

    path = write_video(tmp_path / "clip.mp4", grid_decoded.frames[:12], 25.0)  # 360x288
    with pytest.raises(VideoTooLargeError, match=r"clip.mp4: 360x288 frames are larger than the 0.1 megapixels"):
        decode_video(path, limits=InputLimits(max_frame_pixels=100_000))
    with pytest.raises(VideoTooLargeError, match="360x288 at 25 fps is more than the 2 megapixels per second"):
        decode_video(path, limits=InputLimits(max_pixel_rate=2e6))
    assert decode_video(path, limits=InputLimits()).n_frames == 12  # 4K at 60 fps passes the defaults
    assert InputLimits().max_frame_pixels >= 3840 * 2160 and InputLimits().max_pixel_rate >= 3840 * 2160 * 60


def test_write_video_streams_frames_from_an_iterator(tmp_path, grid_decoded):
    """Long high-resolution test videos are written frame by frame, never held whole."""
    frames = (f for f in grid_decoded.frames[:20])
    v = decode_video(write_video(tmp_path / "streamed.mp4", frames, 25.0, codec_options={"preset": "ultrafast"}))
    assert v.n_frames == 20 and np.abs(v.frames.astype(int) - grid_decoded.frames[:20]).mean() < 8
    from lipauth.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="at least one"):
        write_video(tmp_path / "none.mp4", iter([]), 25.0)


def test_a_memory_budget_scales_frames_further_for_long_clips(tmp_path, grid_decoded):
    """max_bytes: the frames the header promises must fit, so a clip's frames get fewer
    pixels the longer it is (the pipeline's 512 MB holds 30 s at 25 fps of 720x576, at
    1.5 bytes a pixel)."""
    path = write_video(tmp_path / "clip.mp4", grid_decoded.frames[:50], 25.0)  # 360x288, 2 s
    budget = int(50 * 1.5 * 120 * 96)  # room for 50 frames of 120x96
    v = decode_video(path, max_pixels=720 * 576, max_bytes=budget)
    assert v.n_frames == 50 and v.grey.nbytes + v.chroma.nbytes <= budget and v.grey.shape[1] * v.grey.shape[2] >= 0.8 * 120 * 96
    assert decode_video(path, max_pixels=720 * 576, max_bytes=100 * budget).frames.shape[1:3] == (288, 360)  # room enough: untouched


def _rgb24(path, n: int) -> np.ndarray:
    """The first n frames as libswscale's RGB: how frames were decoded before (DECODER_VERSION 3)."""
    import av

    with av.open(str(path)) as c:
        out = []
        for frame in c.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == n:
                return np.stack(out)
    return np.stack(out)


@pytest.mark.parametrize(
    "relative",
    [
        "talking-faces/lrs3_00002.mp4",  # H.264 yuv420p, limited range
        "talking-faces/mead_M003_level_1_happy_024.mp4",  # H.264 1920x1080
        "talking-faces/hdtf_pose_source2.mp4",  # yuvj420p: full range, brought to limited first
    ],
)
def test_grey_from_the_luma_plane_is_the_grey_of_the_rgb_frames(relative):
    """Frames are kept as luma + chroma; the grey the landmarks and lip crops see is within
    a grey level of RGB->grey of libswscale's RGB (what the models were trained on), and
    the RGB made back from the planes is within the chroma subsampling's loss of it."""
    import cv2

    path = need(relative)
    v = decode_video(path, audio=False, max_frames=12)
    rgb = _rgb24(path, 12)
    assert v.grey.shape == rgb.shape[:3] and v.chroma.shape == (12, 2, rgb.shape[1] // 2, rgb.shape[2] // 2)
    old_grey = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in rgb]).astype(int)
    diff = np.abs(v.grey.astype(int) - old_grey)
    assert (diff <= 1).mean() > 0.92 and diff.mean() < 0.7
    back = v.rgb([0, 11]).astype(int)
    assert back.shape == (2, *rgb.shape[1:]) and np.abs(back - rgb[[0, 11]]).mean() < 1.5
    assert np.array_equal(v.frames[[0, 11]], v.rgb([0, 11]))  # every frame's RGB, made on first use


def test_frames_reach_on_frame_as_they_are_decoded(tmp_path, grid_decoded):
    """on_frame sees each kept frame's grey picture, in order, the same as the result's;
    where a wrong header rate forces a second pass, None says the first pass is void."""
    seen: list = []
    v = decode_video(need("grid-s2/video/bbilzs.mpg"), on_frame=seen.append, near_fps=27.5)
    assert len(seen) == v.n_frames == 75 and all(np.array_equal(a, b) for a, b in zip(seen, v.grey))

    path = _browser_webm(tmp_path / "browser.webm", grid_decoded.frames[:40])
    seen = []
    v = decode_video(path, near_fps=27.5, on_frame=seen.append)
    restart = [i for i, f in enumerate(seen) if f is None]
    assert len(restart) == 1 and len(seen) - restart[0] - 1 == v.n_frames == 40
    assert all(np.array_equal(a, b) for a, b in zip(seen[restart[0] + 1 :], v.grey))
