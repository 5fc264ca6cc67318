"""Decode a video once, sequentially, and hand out small frames by timestamp.

Why PyAV (FFmpeg) rather than `cv2.VideoCapture`: OpenCV converts every frame to full-resolution BGR on
`read()`, and `grab()`/`retrieve()` still converts each retrieved frame at full size. PyAV exposes the
decoded planes, so a frame costs one `cv2.resize(INTER_AREA)` of its luma plane (and, for the few
analysis samples, of its chroma planes) right after decoding. PyAV also lets the decoder skip the
deblocking filter and frames nothing refers to, which are invisible once frames are downscaled: the
full-clip pass then costs less than a bare OpenCV decode (see `benchmarks/video_speed.py`).

Two streams of frames come out of the single pass, both chosen by presentation timestamp (never by the
header's frame count, which lies for truncated files):
- *motion* frames: tiny grayscale frames at a fixed rate (`motion_fps`), for cuts, shake and motion;
- *samples*: BGR frames at the analysis size, a few per clip (denser inside the hook window), for the
  picture cues; a bounded few of them also get the face detector.
Why so few samples: on small phone clips decoding costs ~10 ms while the per-sample picture work costs
~3 ms a frame and the face detector ~2-3 ms; picture cues are medians over samples and stable with ten
or so frames, whereas cuts and shake need every frame but only a ~64 px thumbnail of it.
Rotation metadata is honoured: frames come out as the viewer sees them. Memory stays bounded: only the
current frame is alive at any time (plus, until the first sample, the latest frame).
Decoding is single-threaded below `decode_threads_min_pixels` (by default always): the worker pool and a
Dask cluster already run one video per core, where decoder threads only add CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from sparkpick.config import VideoConfig

# BT.601 / BT.709 YCbCr -> RGB coefficients: (Cr->R, Cb->G, Cr->G, Cb->B).
_MATRICES = {
    601: (1.402, 0.344136, 0.714136, 1.772),
    709: (1.5748, 0.1873, 0.4681, 1.8556),
}
_FAST_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
_AVCOL_SPC_BT709 = 1
_AVCOL_SPC_BT601 = {5, 6}
_AVCOL_RANGE_JPEG = 2


class VideoOpenError(Exception):
    """The file cannot be read as a video at all (the message says why)."""


@dataclass(frozen=True)
class ContainerInfo:
    """What the container says about the video stream (sizes as displayed, i.e. after rotation)."""

    width: int
    height: int
    rotation: int
    fps: float
    stated_duration_s: float | None
    codec: str
    bit_rate_kbps: float | None
    has_audio: bool


@dataclass
class Frame:
    """One decoded moment: `tiny` (gray, motion stream) and/or `bgr` (analysis sample)."""

    t: float
    tiny: np.ndarray | None = None
    bgr: np.ndarray | None = None
    # Whether this sample is one of the few the face detector runs on (see `SampleClock.take_faces`).
    faces: bool = False


@dataclass
class DecodeOutcome:
    """How the pass ended: the span actually decoded and why it stopped early, if it did."""

    decoded_s: float = 0.0
    frames: int = 0
    stop_reason: str | None = None
    bad_packets: int = 0
    first_bad_packet: str | None = None


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is at most `long_side`, keeping the aspect, never upscaling."""
    scale = min(1.0, long_side / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _rotate(img: np.ndarray, rotation: int) -> np.ndarray:
    # FFmpeg's display rotation is counter-clockwise; np.rot90 turns counter-clockwise too.
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    buf = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return buf[:, : plane.width]


def _yuv_matrix(matrix: int, full_range: bool) -> np.ndarray:
    """The 3x4 affine map from (Y, U, V, 1) to (B, G, R) for `cv2.transform`."""
    r_cr, g_cb, g_cr, b_cb = _MATRICES[matrix]
    ys, cs, y0 = (1.0, 1.0, 0.0) if full_range else (255.0 / 219.0, 255.0 / 224.0, 16.0)
    rows = []
    for cb_k, cr_k in ((b_cb, 0.0), (-g_cb, -g_cr), (0.0, r_cr)):
        # out = ys*(Y - y0) + cs*(cb_k*(U - 128) + cr_k*(V - 128))
        offset = -ys * y0 - cs * 128.0 * (cb_k + cr_k)
        rows.append([ys, cs * cb_k, cs * cr_k, offset])
    return np.asarray(rows, np.float32)


def _yuv_to_bgr(y: np.ndarray, u: np.ndarray, v: np.ndarray, matrix: int, full_range: bool) -> np.ndarray:
    # One SIMD pass (uint8 in, saturated uint8 out) instead of float arithmetic per channel.
    return cv2.transform(cv2.merge([y, u, v]), _yuv_matrix(matrix, full_range))


class _Converter:
    """Turns a decoded frame into the two small images, choosing the cheapest exact route per format."""

    def __init__(self, frame: av.VideoFrame, tiny_size: tuple[int, int], sample_size: tuple[int, int]):
        self.fmt = frame.format.name
        self.fast = self.fmt in _FAST_FORMATS
        self.full_range = self.fmt.startswith("yuvj") or frame.color_range == _AVCOL_RANGE_JPEG
        if frame.colorspace == _AVCOL_SPC_BT709:
            self.matrix = 709
        elif frame.colorspace in _AVCOL_SPC_BT601:
            self.matrix = 601
        else:  # unspecified: the usual convention is 709 for HD and up, 601 below
            self.matrix = 709 if min(frame.width, frame.height) >= 720 else 601
        self.tiny_size = tiny_size  # coded orientation (w, h)
        self.sample_size = sample_size

    def tiny(self, frame: av.VideoFrame) -> np.ndarray:
        luma = _plane(frame, 0) if self.fast else frame.to_ndarray(format="gray")
        # Pick every k-th pixel first so that the area average touches a few thousand pixels, not
        # two million: the aliasing this adds is far below what cut and shake measurement notices.
        stride = max(1, luma.shape[1] // self.tiny_size[0] // 4)
        if stride > 1:
            luma = luma[::stride, ::stride]
        return cv2.resize(luma, self.tiny_size, interpolation=cv2.INTER_AREA)

    def sample(self, frame: av.VideoFrame) -> np.ndarray:
        if not self.fast:
            return frame.to_ndarray(
                format="bgr24", width=self.sample_size[0], height=self.sample_size[1], interpolation="AREA"
            )
        y, u, v = (
            cv2.resize(_plane(frame, i), self.sample_size, interpolation=cv2.INTER_AREA) for i in range(3)
        )
        return _yuv_to_bgr(y, u, v, self.matrix, self.full_range)


def probe(container: av.container.InputContainer, path: Path) -> tuple[av.video.stream.VideoStream, float]:
    """The first video stream and its stated duration in seconds (0 when unknown)."""
    if not container.streams.video:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["no streams"]
        raise VideoOpenError(f"{path} has no video stream (it holds: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.duration is not None and stream.time_base is not None:
        stated = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        stated = container.duration / 1_000_000
    else:
        stated = 0.0
    return stream, stated


def open_video(path: Path, cfg: VideoConfig) -> tuple[av.container.InputContainer, ContainerInfo]:
    """Open `path` for decoding. Raises `VideoOpenError` with a plain reason when it is not a video."""
    if not path.exists():
        raise VideoOpenError(f"{path} does not exist")
    if not path.is_file():
        raise VideoOpenError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise VideoOpenError(f"{path} is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise VideoOpenError(f"{path} cannot be opened as a video: {exc}") from exc
    try:
        stream, stated = probe(container, path)
        ctx = stream.codec_context
        width, height = ctx.width, ctx.height
        if width <= 0 or height <= 0:
            raise VideoOpenError(f"{path} has a video stream without a frame size")
        if width * height > cfg.max_frame_pixels:
            raise VideoOpenError(
                f"{path} has {width}x{height} frames, over the limit of {cfg.max_frame_pixels} pixels "
                "(video.max_frame_pixels)"
            )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        bit_rate = container.bit_rate or ctx.bit_rate
        info = ContainerInfo(
            width=width,
            height=height,
            rotation=0,
            fps=fps,
            stated_duration_s=stated or None,
            codec=ctx.name,
            bit_rate_kbps=(bit_rate / 1000) if bit_rate else None,
            has_audio=bool(container.streams.audio),
        )
    except BaseException:
        container.close()
        raise
    return container, info


def _with_rotation(info: ContainerInfo, rotation: int) -> ContainerInfo:
    rotation = rotation % 360
    w, h = (info.height, info.width) if rotation in (90, 270) else (info.width, info.height)
    return ContainerInfo(
        width=w, height=h, rotation=rotation, fps=info.fps, stated_duration_s=info.stated_duration_s,
        codec=info.codec, bit_rate_kbps=info.bit_rate_kbps, has_audio=info.has_audio,
    )


class SampleClock:
    """Decides by timestamp which frames become motion frames, analysis samples and face samples.

    Motion frames (tiny grayscale) are taken at `motion_fps`, i.e. every frame of a phone clip: cuts and
    shake need consecutive frames, and a tiny frame costs next to nothing. Picture cues are stable over
    a few frames, so analysis samples are few: `hook_sample_fps` inside the hook window and at most
    `max_body_samples` spread over the rest. The face detector, the costliest cue, runs on at most
    `face_hook_samples` samples spread over the hook and `face_body_samples` spread over the rest.
    """

    def __init__(self, cfg: VideoConfig, stated_duration_s: float | None) -> None:
        self.motion_step = 1.0 / cfg.motion_fps
        self.hook_step = 1.0 / cfg.hook_sample_fps
        self.hook_end = cfg.hook_window_s
        body = max(0.0, (stated_duration_s or 0.0) - cfg.hook_window_s)
        # Long videos get sparser samples so that the work (and memory for per-frame numbers) is bounded.
        self.body_step = max(1.0 / cfg.sample_fps, body / max(1, cfg.max_body_samples))
        self.face_hook_step = self.hook_end / cfg.face_hook_samples if cfg.face_hook_samples else math.inf
        self.face_body_step = (
            max(self.body_step, body / cfg.face_body_samples) if cfg.face_body_samples else math.inf
        )
        self.next_motion = 0.0
        self.samples = 0
        # Samples sit in the middle of their intervals, not at 0: with a few samples per clip, the first
        # frame (often black, a fade-in or the camera still settling) would weigh far too much.
        self.next_sample = self.hook_step / 2
        self.next_face = self.face_hook_step / 2 if cfg.face_hook_samples else self.hook_end
        self.faces_left = {True: cfg.face_hook_samples, False: cfg.face_body_samples}
        # A frame counts as on time when it is within half a frame of the due time.
        self.slack = 0.0

    def set_frame_duration(self, seconds: float) -> None:
        self.slack = max(0.0, seconds / 2)

    def take_motion(self, t: float) -> bool:
        if t + self.slack < self.next_motion:
            return False
        self.next_motion = max(self.next_motion + self.motion_step, t + self.motion_step / 2)
        return True

    def take_sample(self, t: float) -> bool:
        if t + self.slack < self.next_sample:
            return False
        step = self.hook_step if t < self.hook_end else self.body_step
        self.next_sample = max(self.next_sample + step, t + step / 2)
        self.samples += 1
        return True

    def take_faces(self, t: float) -> bool:
        """Whether the sample at `t` (one `take_sample` accepted) also gets the face detector."""
        in_hook = t < self.hook_end
        if t + self.slack < self.next_face or self.faces_left[in_hook] <= 0:
            return False
        self.faces_left[in_hook] -= 1
        if in_hook:
            due = self.next_face + self.face_hook_step
            # The body's schedule starts where the hook ends, whatever the hook left over.
            self.next_face = due if due < self.hook_end else self.hook_end
        else:
            self.next_face = max(self.next_face + self.face_body_step, t + self.face_body_step / 2)
        return True


def iter_frames(
    container: av.container.InputContainer,
    info: ContainerInfo,
    cfg: VideoConfig,
    outcome: DecodeOutcome,
    deadline: float,
) -> Iterator[tuple[ContainerInfo, Frame]]:
    """Decode once; yield (container info with rotation, frame) for every motion frame or sample.

    `outcome` is filled as decoding proceeds: the decoded span, and why decoding stopped early (a decode
    error, the time limit) so that the caller can mark the video `partial`. Stops at `deadline`
    (a `time.monotonic()` value).
    """
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if info.width * info.height >= cfg.decode_threads_min_pixels:
        stream.thread_type = "AUTO"
    else:
        # Starting and syncing decoder threads costs more CPU than a small frame's decode; the pool
        # already keeps every core busy with one video each.
        ctx.thread_count = 1
    options: dict[str, str] = {}
    if cfg.skip_loop_filter:
        # Deblocking only smooths 4-16 px block edges: invisible after downscaling to analysis size.
        options["skip_loop_filter"] = "all"
    ctx.options = options
    if cfg.skip_nonref_frames:
        # Frames no other frame refers to (most B-frames) can be skipped without harming the rest; the
        # motion stream samples by timestamp, so it simply picks the nearest decoded frame.
        ctx.skip_frame = "NONREF"
    # A decodable video stream has a time base (the stubs allow None).
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0  # type: ignore[operator]
    frame_dt = 1.0 / info.fps if info.fps > 0 else 1.0 / 30
    clock = SampleClock(cfg, info.stated_duration_s)
    clock.set_frame_duration(frame_dt)
    converter: _Converter | None = None
    shown = info
    last_t = -1.0
    index = 0
    # Until a sample is taken, the latest frame is kept (one frame: memory stays bounded) so that a clip
    # that ends before the first sample is due (a still image, a file cut off early) still gets one.
    unsampled: tuple[float, av.VideoFrame] | None = None
    packets = container.demux(stream)
    while True:
        if time.monotonic() > deadline:
            outcome.stop_reason = f"stopped at the time limit ({cfg.timeout_s:g} s) after {last_t + frame_dt:.1f} s"
            break
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:
            outcome.stop_reason = f"read error after {max(0.0, last_t + frame_dt):.1f} s: {exc}"
            break
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as exc:
            # One broken packet: the decoder recovers at the next keyframe; count it and keep going.
            outcome.bad_packets += 1
            outcome.first_bad_packet = outcome.first_bad_packet or f"at {max(0.0, last_t):.1f} s: {exc}"
            continue
        for frame in decoded:
            t = frame.time - start if frame.time is not None else index * frame_dt
            index += 1
            if t < last_t - 1e-6:
                continue  # out-of-order or repeated timestamp: keep time monotonic
            last_t = t
            outcome.frames += 1
            outcome.decoded_s = t + frame_dt
            if converter is None:
                shown = _with_rotation(info, int(frame.rotation or 0))
                coded_tiny = fit_size(frame.width, frame.height, cfg.motion_long_side)
                coded_sample = fit_size(frame.width, frame.height, cfg.analysis_long_side)
                converter = _Converter(frame, coded_tiny, coded_sample)
            want_motion = clock.take_motion(t)
            want_sample = clock.take_sample(t)
            if want_sample:
                unsampled = None
            elif clock.samples == 0:
                unsampled = (t, frame)
            if not (want_motion or want_sample):
                continue
            out = Frame(t=t)
            if want_motion:
                out.tiny = _rotate(converter.tiny(frame), shown.rotation)
            if want_sample:
                out.bgr = _rotate(converter.sample(frame), shown.rotation)
                out.faces = clock.take_faces(t)
            yield shown, out
    if unsampled is not None and converter is not None:
        t, frame = unsampled
        yield shown, Frame(t=t, bgr=_rotate(converter.sample(frame), shown.rotation), faces=True)
