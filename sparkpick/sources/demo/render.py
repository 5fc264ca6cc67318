"""Render a demo post's video: its look's frames encoded to H.264 by PyAV, one clip or a worker's stream.

Everything is drawn from the clip's own seed (`looks.py`), so a clip is identical whichever worker renders it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from sparkpick.files import atomic_path
from sparkpick.sources.demo.clip import ClipSpec, spec_from_json
from sparkpick.sources.demo.looks import NativeClip, ProducedClip


def render_frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """The clip's frames (BGR, height x width x 3), exactly `n_frames` of them."""
    rng = np.random.default_rng(spec.seed)
    clip = ProducedClip(spec, rng) if spec.produced else NativeClip(spec, rng)
    for i in range(spec.n_frames):
        yield clip.frame(i)


def _yuv_frame(bgr: np.ndarray) -> av.VideoFrame:
    """A BGR image as a yuv420p PyAV frame, copied straight into the frame's (padded) planes."""
    h, w = bgr.shape[:2]
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    vf = av.VideoFrame(w, h, "yuv420p")
    chroma = (h // 2) * (w // 2)
    parts = (yuv[:h], yuv[h:].reshape(-1)[:chroma].reshape(h // 2, w // 2),
             yuv[h:].reshape(-1)[chroma:].reshape(h // 2, w // 2))
    for plane, part in zip(vf.planes, parts, strict=True):
        view = np.frombuffer(memoryview(plane), np.uint8).reshape(part.shape[0], -1)
        view[:, :part.shape[1]] = part
    return vf


def write_clip(spec: ClipSpec) -> str:
    """Render and encode one clip to `spec.path` (written to a temporary name, then moved into place)."""
    cv2.setNumThreads(1)
    path = Path(spec.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(spec.fps, 1))
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = "yuv420p"
        # Phones put a keyframe every second or two; decoders that sample keyframes rely on it.
        keyint = max(1, round(spec.keyframe_interval_s * spec.fps))
        stream.options = {"preset": spec.preset, "crf": str(spec.crf), "threads": "1",
                          "x264-params": f"keyint={keyint}:min-keyint={keyint}"}
        for i, frame in enumerate(render_frames(spec)):
            vf = _yuv_frame(frame)
            vf.pts = i
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))
    return spec.post_id


def serve() -> None:
    """Worker loop: read one JSON clip spec per line from stdin, answer `ok <post_id>` or `err <post_id> <why>`.

    A failing clip is reported and the worker carries on with the next one.
    """
    # Workers already run in parallel: OpenCV's own threads would only fight over the cores.
    cv2.setNumThreads(1)
    for line in sys.stdin:
        if not line.strip():
            continue
        spec = spec_from_json(line)
        try:
            write_clip(spec)
            answer = f"ok {spec.post_id}"
        except Exception as exc:  # reported to the parent, which names the post
            answer = f"err {spec.post_id} {type(exc).__name__}: {exc}".replace("\n", " ")
        sys.stdout.write(answer + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        serve()
    except (KeyboardInterrupt, BrokenPipeError):  # the parent was interrupted: stop quietly
        sys.exit(1)
