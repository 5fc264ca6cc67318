"""One video in, its cues, polish score, status and thumbnail out: the one module that opens a video.

Imports only OpenCV, NumPy and PyAV (plus the config types) so that `sparkpick video-features` starts
quickly. Never raises for a bad file: every outcome is a `VideoResult` with a status
- `ok`: decoded to its stated end;
- `partial`: decoding stopped early (truncated file, broken packets, the time limit) and the cues
  describe the decoded part only;
- `failed`: nothing usable (missing, empty, not a video, audio only, huge frames, no decodable frame),
  with the reason in `error`.

A result that is not `ok` because the file could not be read as the bytes its hash names (it disappeared,
changed while it was read, permission, a network error) is marked `unreadable`: the video's content is
not to blame, so the run reports it and the next run reads it again; only a file read whole that will
not decode is a failure worth remembering (`features/video/pool.py:extract_task` decides).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from features.video.cues.catalogue import CUE_NAMES
from features.video.cues.clip import Container, clip_cues, frame_cues
from features.video.cues.motion import MotionTracker, summarize_motion
from features.video.frames import DecodeOutcome, VideoOpenError, fit_size, iter_frames, open_video
from features.video.polish import polish_score
from sparkpick.config import VideoConfig
from sparkpick.files import file_sha256, write_atomic

STATUSES = ("ok", "partial", "failed")


@dataclass
class VideoResult:
    """Everything extraction learns about one video file."""

    path: str
    status: str
    error: str | None = None
    video_sha256: str | None = None
    decoded_s: float | None = None
    duration_s: float | None = None
    polish_score: float | None = None
    polish_reasons: list[str] = field(default_factory=list)
    thumbnail_path: str | None = None
    cues: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CUE_NAMES, float("nan")))
    # When the hard cuts happen (seconds from the start), for reports and cut-detection checks.
    cut_times_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # The file could not be read as the bytes `video_sha256` names: retried by the next run, never cached.
    unreadable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _thumbnail_rank(cues: dict[str, float]) -> float:
    # A representative frame is sharp, well exposed and, if there is one, shows the face.
    exposure_penalty = 2.0 * abs(cues["brightness"] - 0.45)
    face_bonus = 0.5 if cues.get("faces", 0) > 0 else 0.0
    text_penalty = cues["text_coverage"]
    return cues["sharpness"] - exposure_penalty + face_bonus - text_penalty - cues["letterbox_share"]


def _write_thumbnail(bgr: np.ndarray, target: Path, cfg: VideoConfig) -> None:
    h, w = bgr.shape[:2]
    size = fit_size(w, h, cfg.thumbnail_long_side)
    if size != (w, h):
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, cfg.thumbnail_quality])
    if not ok:
        raise OSError(f"could not encode the thumbnail for {target.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, buf.tobytes())  # a reader never sees half a JPEG


def extract_video(
    path: Path | str,
    cfg: VideoConfig,
    thumbnail_dir: Path | None = None,
    video_sha256: str | None = None,
) -> VideoResult:
    """Decode `path` once and compute its cues, polish score and (if `thumbnail_dir`) a JPEG thumbnail.

    The thumbnail is written as `<thumbnail_dir>/<sha256>.jpg`; the hash is computed here unless given.
    Stops decoding after `cfg.timeout_s` seconds (the result is then `partial`).
    """
    started = time.monotonic()
    path = Path(path)
    result = VideoResult(path=str(path), status="failed", video_sha256=video_sha256)
    try:
        container, info = open_video(path, cfg)
    except VideoOpenError as exc:
        result.error = str(exc)
        result.seconds = time.monotonic() - started
        return result
    outcome = DecodeOutcome()
    tracker = MotionTracker(cfg)
    samples: list[tuple[float, dict[str, float]]] = []
    best: tuple[float, np.ndarray] | None = None
    shown = info
    crash: str | None = None
    try:
        for frame_info, frame in iter_frames(container, info, cfg, outcome, started + cfg.timeout_s):
            shown = frame_info  # the container facts with the rotation read from the first frame
            if frame.tiny is not None:
                tracker.add(frame.t, frame.tiny)
            if frame.bgr is not None:
                cues = frame_cues(frame.bgr, cfg, detect_faces=frame.faces)
                samples.append((frame.t, cues))
                rank = _thumbnail_rank(cues)
                if thumbnail_dir is not None and (best is None or rank > best[0]):
                    best = (rank, frame.bgr)
    except Exception as exc:  # a bad file must never sink the batch: keep what was decoded
        crash = f"{type(exc).__name__}: {exc}"
    finally:
        container.close()

    stated = info.stated_duration_s
    result.duration_s = stated if stated else outcome.decoded_s or None
    result.decoded_s = outcome.decoded_s
    if outcome.frames == 0 or not samples:
        reason = crash or outcome.stop_reason or outcome.first_bad_packet or "no frame could be decoded"
        result.error = f"{path}: no decodable video frames ({reason})"
        result.seconds = time.monotonic() - started
        return result

    if outcome.frames < 2 and not (stated and stated > 2 * cfg.partial_tolerance_s):
        result.error = f"{path}: a single still image ({shown.codec}), not a video"
        result.seconds = time.monotonic() - started
        return result

    problems = [p for p in (crash, outcome.stop_reason) if p]
    if outcome.bad_packets:
        problems.append(f"{outcome.bad_packets} undecodable packet(s), first {outcome.first_bad_packet}")
    if stated and outcome.decoded_s < stated - cfg.partial_tolerance_s:
        problems.append(f"decoded {outcome.decoded_s:.1f} s of the stated {stated:.1f} s")
    result.status = "partial" if problems else "ok"
    result.error = f"{path}: " + "; ".join(problems) if problems else None

    motion = summarize_motion(tracker, outcome.decoded_s, cfg)
    container_facts = Container(
        width=shown.width, height=shown.height, fps=shown.fps, rotation=shown.rotation,
        bitrate_kbps=shown.bit_rate_kbps, has_audio=shown.has_audio,
    )
    result.cues = clip_cues(samples, motion, container_facts, cfg)
    result.cut_times_s = motion.cut_times
    result.polish_score, result.polish_reasons = polish_score(result.cues, cfg.polish)

    if thumbnail_dir is not None and best is not None:
        try:
            sha = result.video_sha256 or file_sha256(path)
            result.video_sha256 = sha
            target = Path(thumbnail_dir) / f"{sha}.jpg"
            _write_thumbnail(best[1], target, cfg)
            result.thumbnail_path = str(target)
        except OSError as exc:  # no thumbnail is not worth losing the features
            result.error = (result.error + "; " if result.error else "") + f"thumbnail not written: {exc}"
    result.seconds = time.monotonic() - started
    return result
