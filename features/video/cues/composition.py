"""Composition cues of one frame: letterbox and blurred-fill bars, text overlays and frontal faces."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from features.video.cues.sample import Clip, Sample, mean_of, median_of, per_clip, per_frame, values_of
from sparkpick.config import VideoConfig


def border_bars(gray: np.ndarray, cfg: VideoConfig) -> tuple[int, int, int, int]:
    """Letterbox/pillarbox bars: uniform dark rows/columns at the edges -> (top, bottom, left, right) px."""

    def run(flags: np.ndarray) -> int:
        n = 0
        for flag in flags:
            if not flag:
                break
            n += 1
        return n

    g = gray.astype(np.float32)
    g2 = cv2.multiply(g, g)

    def mean_std(axis: int) -> tuple[np.ndarray, np.ndarray]:
        # Row/column means of g and g^2 with cv2.reduce: std = sqrt(E[g^2] - E[g]^2).
        m = cv2.reduce(g, axis, cv2.REDUCE_AVG, dtype=cv2.CV_64F).ravel()
        m2 = cv2.reduce(g2, axis, cv2.REDUCE_AVG, dtype=cv2.CV_64F).ravel()
        return m, np.sqrt(np.maximum(m2 - m * m, 0.0))

    row_mean, row_std = mean_std(1)
    col_mean, col_std = mean_std(0)
    rows = (row_mean <= cfg.bar_max_luma) & (row_std <= cfg.bar_max_std)
    cols = (col_mean <= cfg.bar_max_luma) & (col_std <= cfg.bar_max_std)
    h, w = gray.shape
    top, bottom = run(rows), run(rows[::-1])
    left, right = run(cols), run(cols[::-1])
    # A frame that is dark all over (night shot, fade to black) has no bars, just darkness.
    if top + bottom >= cfg.bar_max_total * h:
        top = bottom = 0
    if left + right >= cfg.bar_max_total * w:
        left = right = 0
    min_rows, min_cols = cfg.bar_min_fraction * h, cfg.bar_min_fraction * w
    return (
        top if top >= min_rows else 0,
        bottom if bottom >= min_rows else 0,
        left if left >= min_cols else 0,
        right if right >= min_cols else 0,
    )


def blurred_fill_bars(gray: np.ndarray, cfg: VideoConfig) -> tuple[int, int]:
    """Blurred-fill bars: landscape footage centred on a blurred, enlarged copy of itself, the way apps
    and editors fit a 16:9 clip into a 9:16 frame -> (top, bottom) px, both 0 unless both are found.

    Reposted landscape footage (a TV spot, a YouTube cut) is as far from native as black bars are, but
    the bands are neither dark nor flat. What gives them away: a straight edge across the whole frame
    where the sharp picture starts (a spike in the mean row-to-row change), far less fine detail outside
    the two edges than between them, and two bands of about the same height (the picture is centred).
    """
    g = gray.astype(np.float32)
    h = g.shape[0]
    step = np.abs(np.diff(g, axis=0)).mean(axis=1)  # step[r]: change from row r to r + 1
    detail = np.abs(np.diff(g, axis=1)).mean(axis=1)  # fine detail along each row
    r = cfg.blurfill_context_rows
    if h < 4 * r + 4:
        return 0, 0
    padded = np.pad(step, r, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * r + 1)
    around = np.median(np.delete(windows, r, axis=1), axis=1)
    spikes = step >= cfg.blurfill_edge_ratio * np.maximum(around, cfg.blurfill_min_step)
    lo, hi = round(cfg.bar_min_fraction * h), round(cfg.blurfill_max_band * h)
    edges = np.flatnonzero(spikes)
    tops = edges + 1
    tops = tops[(tops >= lo) & (tops <= hi)]
    bottoms = h - 1 - edges
    bottoms = bottoms[(bottoms >= lo) & (bottoms <= hi)]
    if not len(tops) or not len(bottoms):
        return 0, 0
    # Every (top, bottom) pair at once; band means from prefix sums (patterned pictures have many edges).
    t, b = np.meshgrid(tops, bottoms, indexing="ij")
    total = np.r_[0.0, np.cumsum(detail)]

    def band_sum(start: np.ndarray | int, stop: np.ndarray | int) -> np.ndarray:
        return total[stop] - total[start]

    # Rows right at an edge are left out of both sides: the edge itself is detail.
    inside = band_sum(t + 1, h - b - 1) / np.maximum(h - b - 2 - t, 1)
    top_end, bottom_start = np.maximum(t - 1, 0), np.minimum(h - b + 1, h)
    outside = (band_sum(0, top_end) + band_sum(bottom_start, h)) / np.maximum(top_end + h - bottom_start, 1)
    ok = (np.abs(t - b) <= cfg.blurfill_symmetry * h) & (h - t - b >= lo) & (inside > 0)
    ok &= outside <= cfg.blurfill_detail_ratio * inside
    if not ok.any():
        return 0, 0
    # The blurred bands have no edges of their own, so the picture starts at the first edge pair from
    # the frame's borders that passes; edges inside the picture pair up too, and must not win.
    i, j = np.unravel_index(np.argmin(np.where(ok, t + b, np.iinfo(np.int64).max)), ok.shape)
    return int(t[i, j]), int(b[i, j])


def text_coverage(gray: np.ndarray, cfg: VideoConfig) -> float:
    """Share of the picture covered by text-like regions (captions, titles, price tags, lower thirds).

    Overlay text is made of many short, high-contrast strokes lined up in a row: a morphological
    gradient above `text_min_gradient`, closed horizontally, gives blobs; those with a text line's
    height, a wide aspect, dense strokes and many stroke crossings along the line count.
    """
    h, w = gray.shape
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    strokes = (grad >= cfg.text_min_gradient).astype(np.uint8)
    close_w = max(3, round(cfg.text_close_fraction * w))
    joined = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (close_w, 1)))
    # Grana's block-based labelling: the same components, measured ~3x faster than the default here.
    _n, _, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(joined, 8, cv2.CV_32S, cv2.CCL_GRANA)
    bw_all, bh_all = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    shaped = (bh_all >= cfg.text_min_height * h) & (bh_all <= cfg.text_max_height * h)
    shaped &= bw_all >= cfg.text_min_aspect * bh_all
    covered = 0
    for x, y, bw, bh, _area in stats[1:][shaped]:
        box = strokes[y : y + bh, x : x + bw]
        density = float(box.mean())
        if not cfg.text_min_density <= density <= cfg.text_max_density:
            continue
        # A line of letters crosses many strokes along its middle rows (a few per letter, letters about
        # as wide as tall); eyes and brows, window frames or stripes cross far fewer for their width.
        middle = box[bh // 4 : max(bh // 4 + 1, 3 * bh // 4)]
        crossings = float(np.median((np.diff(middle.astype(np.int8), axis=1) == 1).sum(axis=1)))
        if crossings >= cfg.text_min_crossings * bw / bh:
            covered += bw * bh
    return min(1.0, covered / float(h * w))


@lru_cache(maxsize=1)
def face_cascade() -> cv2.CascadeClassifier:
    """OpenCV's bundled frontal-face cascade, loaded once per process.

    Parsing its XML costs ~15 ms of CPU, a quarter of extracting a small clip: the worker pool loads it
    once before forking (see `features/video/preload.py`) so that every child inherits it.
    """
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():  # pragma: no cover - only with an OpenCV build without bundled cascades
        raise RuntimeError(f"OpenCV's face cascade is missing at {path}: install opencv-python-headless<5")
    return cascade


def faces(gray: np.ndarray, cfg: VideoConfig) -> tuple[int, float]:
    """Frontal faces (OpenCV's bundled Haar cascade): (count, largest face area / picture area)."""
    h, w = gray.shape
    # Detect on a smaller copy: faces that matter (a person talking to camera) are large, and the
    # cascade's cost grows with the number of windows it tries.
    scale = min(1.0, cfg.face_long_side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    gh, gw = gray.shape
    min_side = max(cfg.face_min_px, round(cfg.face_min_fraction * min(gh, gw)))
    if min_side > min(gh, gw):
        return 0, 0.0
    found = face_cascade().detectMultiScale(
        gray, scaleFactor=cfg.face_scale_factor, minNeighbors=cfg.face_min_neighbors, minSize=(min_side, min_side)
    )
    if len(found) == 0:
        return 0, 0.0
    largest = max(int(fw) * int(fh) for _x, _y, fw, fh in found)
    return len(found), largest / float(gh * gw)


# -- the composition cues of one sample, as the catalogue names them --------------------------------------
@per_frame("text_coverage")
def text_coverage_of(s: Sample) -> float:
    return text_coverage(s.gray, s.cfg)


@per_frame("letterbox_share")
def letterbox_share_of(s: Sample) -> float:
    return s.letterbox_share


# The clip's composition: text and faces over the samples (face detection runs on some samples only: the
# ones with a `faces` count).
def _face_counts(rows: list[tuple[float, dict[str, float]]]) -> list[float]:
    return values_of("faces", [(t, c) for t, c in rows if "faces" in c])


@per_clip("text_frame_share")
def text_frame_share_of(clip: Clip) -> float:
    return mean_of([float(v >= clip.cfg.text_frame_min_coverage) for v in values_of("text_coverage", clip.samples)])


@per_clip("face_share")
def face_share_of(clip: Clip) -> float:
    return mean_of([float(n > 0) for n in _face_counts(clip.samples)])


@per_clip("face_size")
def face_size_of(clip: Clip) -> float:
    counts = _face_counts(clip.samples)
    sizes = [c["face_size"] for _t, c in clip.samples if "faces" in c and c["faces"] > 0]
    return median_of(sizes) if sizes else (0.0 if counts else float("nan"))


@per_clip("faces_per_frame")
def faces_per_frame_of(clip: Clip) -> float:
    return mean_of(_face_counts(clip.samples))


@per_clip("hook_face_share")
def hook_face_share_of(clip: Clip) -> float:
    return mean_of([float(n > 0) for n in _face_counts(clip.hook)])


@per_clip("hook_text_coverage")
def hook_text_coverage_of(clip: Clip) -> float:
    return mean_of(values_of("text_coverage", clip.hook))
