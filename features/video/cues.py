"""Polish cues: numbers that say how produced a video looks, from small frames (no I/O here).

Three layers, each a pure function or a small accumulator:
- per sample frame (`frame_cues`): picture and composition cues on one BGR frame at analysis size
  (longer side `video.analysis_long_side`, so every cue is measured at the same scale whatever the
  upload's resolution: that is the resolution normalisation);
- per motion step (`MotionTracker`): tiny grayscale frames at a fixed rate (`video.motion_fps`) give
  frame differences, global translation by phase correlation and brightness over time;
- per clip (`clip_cues`): aggregates of both plus the hook window against the rest.

Why these cues: content that looks like an ad is swiped past, and on real footage "looks like an ad"
means fast editing (hard cuts), a locked-off or gimbal camera (no shake), graded colour, clean and sharp
pictures, text and graphics overlays, letterboxed landscape footage, and fewer faces talking to the
camera. Native phone footage is one handheld take, with auto-exposure drifting and sensor noise.
`VIDEO_FEATURE_DESCRIPTIONS` documents each cue (formula and unit) for reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import cv2
import numpy as np

from features.video import VIDEO_PREFIX
from sparkpick.config import VideoConfig

# Name -> plain-English description with its unit. The order is the column order of `video_features`.
CUE_DESCRIPTIONS: dict[str, str] = {
    # container facts
    "width": "displayed frame width after rotation (pixels)",
    "height": "displayed frame height after rotation (pixels)",
    "fps": "frame rate stated by the container (frames per second)",
    "rotation": "rotation metadata applied for display (degrees, counter-clockwise)",
    "bitrate_kbps": "overall bit rate of the file (kilobits per second)",
    "has_audio": "1 if the file has an audio track, else 0",
    "vertical": "1 if the displayed frame is portrait (taller than wide), else 0",
    "native_vertical": "1 if portrait and not letterboxed landscape footage, else 0",
    # picture
    "sharpness": "log10(1 + variance of the Laplacian of the luma above the noise floor) at analysis "
    "size (median over samples); higher is crisper",
    "noise": "grain: Immerkaer noise sigma of the luma on flat areas at analysis size (8-bit levels)",
    "colourfulness": "Hasler-Suesstrunk colourfulness M = sd(rg,yb) + 0.3 mean(rg,yb) (0 grey, >60 vivid)",
    "saturation": "mean HSV saturation (0-1, median over samples)",
    "brightness": "mean luma (0-1, median over samples)",
    "contrast": "RMS contrast: standard deviation of luma (0-1, median over samples)",
    "highlights_clipped": "share of pixels at luma >= 250, blown highlights (0-1, mean over samples)",
    "shadows_clipped": "share of pixels at luma <= 5, crushed shadows (0-1, mean over samples)",
    "edge_density": "share of Canny edge pixels at analysis size (0-1, median over samples)",
    # composition
    "text_coverage": "share of the picture covered by text-like overlay regions (0-1, mean over samples)",
    "text_frame_share": "share of sampled frames showing text or graphics overlays (0-1)",
    "face_share": "share of sampled frames with a frontal face (0-1)",
    "face_size": "area of the largest face as a share of the picture, where a face is seen (0-1)",
    "faces_per_frame": "mean number of frontal faces per sampled frame",
    "letterbox_share": "share of the picture taken by letterbox or pillarbox bars, black or blurred fill (0-1)",
    # time
    "hard_cuts": "number of hard cuts found in the decoded span",
    "cuts_per_10s": "hard cuts per 10 seconds of video",
    "mean_shot_s": "mean shot length (seconds)",
    "shake": "camera shake: RMS of the high-frequency part (< ~0.5 s) of the global translation "
    "found by phase correlation (% of the frame diagonal)",
    "camera_motion": "mean speed of the smoothed global translation, pans and walks (% of diagonal per s)",
    "motion_energy": "mean absolute luma change between motion frames 1/motion_fps apart (8-bit levels)",
    "static_share": "share of motion steps with almost no change (0-1)",
    "exposure_drift": "within-shot change of mean brightness, auto-exposure hunting (8-bit levels per s)",
    # the hook
    "hook_motion_energy": "motion energy inside the hook window (8-bit levels)",
    "hook_motion_ratio": "hook motion energy over the rest's, the rest floored at static_max_diff (ratio; >1 "
    "the opening moves more)",
    "hook_cuts": "hard cuts inside the hook window",
    "hook_face_share": "share of hook samples with a frontal face (0-1)",
    "hook_text_coverage": "text overlay coverage inside the hook window (0-1)",
}
CUE_NAMES: tuple[str, ...] = tuple(CUE_DESCRIPTIONS)

# Columns joined into the feature matrix carry `VIDEO_PREFIX` (see `table.post_video_features`).
VIDEO_FEATURE_DESCRIPTIONS: dict[str, str] = {
    **{f"{VIDEO_PREFIX}{name}": text for name, text in CUE_DESCRIPTIONS.items()},
    "polish_score": "how produced the video looks, 0 raw phone footage to 100 studio advert",
    "video_status": "ok, partial (only part decoded), failed, missing (file not found) or none (no video)",
}


# -- per-frame picture and composition cues ---------------------------------------------------------
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _exact_mean(values: np.ndarray) -> float:
    """Mean of whole numbers (below 2^53 in total): exact, so the same whatever the summation order."""
    return float(values.sum(dtype=np.float64)) / values.size


def _flat_mask(g: np.ndarray, quantile: float) -> np.ndarray:
    """Pixels whose Sobel gradient is at or below `quantile`: where noise, not texture, dominates.

    `g` holds whole numbers (a uint8 frame as float32), so the squared gradient is exact at every step and
    the mask is the same bit for bit on any machine. Not `cv2.magnitude`: its IPP square roots round
    differently depending on the 32-byte alignment of the output buffer, which NumPy leaves to chance,
    so pixels tied at the threshold flipped between runs and `noise` and `sharpness` moved in the fourth
    digit. Comparing squares gives the same mask as comparing exact roots (sqrt is monotone).
    """
    sx, sy = cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1)
    grad2 = cv2.add(cv2.multiply(sx, sx), cv2.multiply(sy, sy))  # at most 2 * 1020^2 < 2^24: exact
    # The threshold from every other pixel in each direction: the same quantile at a quarter of the cost
    # (a partial sort of the subsample, the lower of the two middle values as np.quantile's "lower").
    sub = grad2[::2, ::2].ravel()
    k = min(sub.size - 1, int(quantile * (sub.size - 1)))
    return grad2 <= np.partition(sub, k)[k]


def sharpness(gray: np.ndarray, flat_quantile: float, noise_k: float) -> float:
    """log10(1 + Laplacian energy above the noise floor) of the luma at analysis size: focus and detail.

    The variance of the Laplacian (mean of its square) is the classic focus measure, but grain adds
    to it. Here each pixel's squared Laplacian counts only above `noise_k` times the noise floor (its
    mean on flat pixels), so grain that masks fine detail lowers the reading, and blur lowers it a lot.
    """
    g = gray.astype(np.float32)
    return _sharpness(g, _flat_mask(g, flat_quantile), noise_k)


def _sharpness(g: np.ndarray, flat: np.ndarray, noise_k: float) -> float:
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1)
    lap2 = cv2.multiply(lap, lap)  # whole numbers below 2^24: exact
    # Sums of whole numbers are exact in float64 whatever their order (SIMD width, threads), so these
    # means are the same bit for bit on any machine; the excess is summed as (sum above) - n * floor.
    floor = noise_k * _exact_mean(lap2[flat]) if flat.any() else 0.0
    above = lap2 > math.floor(floor)  # lap2 holds whole numbers: > floor(x) is > x
    excess = float(lap2[above].sum(dtype=np.float64)) - floor * int(np.count_nonzero(above))
    return math.log10(1.0 + excess / lap2.size)


def noise_sigma(gray: np.ndarray, flat_quantile: float) -> float:
    """Immerkaer's fast noise estimate (8-bit levels), on the flattest pixels so edges don't count.

    sigma = sqrt(pi/2) * mean|I * N| / 6 with N the 3x3 Laplacian-difference mask; pixels whose Sobel
    gradient is above `flat_quantile` are ignored because texture, not noise, dominates there.
    """
    if min(gray.shape) < 8:
        return float("nan")
    g = gray.astype(np.float32)
    return _noise(g, _flat_mask(g, flat_quantile))


def _noise(g: np.ndarray, flat_full: np.ndarray) -> float:
    if min(g.shape) < 8:
        return float("nan")
    response = np.abs(cv2.filter2D(g, -1, _IMMERKAER))[1:-1, 1:-1]
    flat = flat_full[1:-1, 1:-1]
    if not flat.any():
        return float("nan")
    return float(math.sqrt(math.pi / 2) * _exact_mean(response[flat]) / 6.0)


def colourfulness(bgr: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness: sd(rg, yb) + 0.3 * mean(rg, yb), rg = R-G, yb = (R+G)/2-B."""
    # One affine transform gives both opponent channels: rg = R - G, yb = (R + G)/2 - B (BGR order in).
    opp = cv2.transform(bgr.astype(np.float32), np.float32([[0, -1, 1], [-1, 0.5, 0.5]]))
    mean, std = cv2.meanStdDev(opp)
    return float(math.hypot(std[0, 0], std[1, 0]) + 0.3 * math.hypot(mean[0, 0], mean[1, 0]))


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
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
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


def frame_cues(bgr: np.ndarray, cfg: VideoConfig, detect_faces: bool = True) -> dict[str, float]:
    """All per-frame cues of one BGR frame at analysis size (see `CUE_DESCRIPTIONS` for each)."""
    gray_full = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    h, w = gray_full.shape
    top, bottom, left, right = border_bars(gray_full, cfg)
    if top == bottom == 0:
        top, bottom = blurred_fill_bars(gray_full, cfg)
    bars = 1.0 - ((h - top - bottom) * (w - left - right)) / float(h * w)
    # Everything else is measured inside the picture, so that bars don't count as crushed shadows.
    bgr = bgr[top : h - bottom, left : w - right]
    gray = gray_full[top : h - bottom, left : w - right]
    hsv_s = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)[..., 1]
    edges = cv2.Canny(gray, cfg.canny_low, cfg.canny_high)
    g = gray.astype(np.float32)
    flat = _flat_mask(g, cfg.noise_flat_quantile)
    mean, std = cv2.meanStdDev(gray)
    n = float(gray.size)
    out = {
        "sharpness": _sharpness(g, flat, cfg.sharpness_noise_k),
        "noise": _noise(g, flat),
        "colourfulness": colourfulness(bgr),
        "saturation": cv2.mean(hsv_s)[0] / 255.0,
        "brightness": float(mean[0, 0]) / 255.0,
        "contrast": float(std[0, 0]) / 255.0,
        "highlights_clipped": np.count_nonzero(gray >= cfg.clip_high) / n,
        "shadows_clipped": np.count_nonzero(gray <= cfg.clip_low) / n,
        "edge_density": cv2.countNonZero(edges) / n,
        "text_coverage": text_coverage(gray, cfg),
        "letterbox_share": bars,
    }
    if detect_faces:
        count, size = faces(gray, cfg)
        out["faces"] = float(count)
        out["face_size"] = size
    return out


# -- the motion stream ----------------------------------------------------------------------------
def _tukey_window(shape: tuple[int, ...], taper: float) -> np.ndarray:
    """A window flat in the middle that tapers only the outer `taper` share of each side.

    OpenCV's Hanning window weights the centre most, where the subject usually moves on its own; the
    camera's motion is what the whole frame shares, so the middle must count as much as the rest.
    """

    def tukey(n: int) -> np.ndarray:
        edge = max(1, int(taper * n))
        w = np.ones(n, np.float32)
        ramp = 0.5 * (1 - np.cos(np.pi * np.arange(edge) / edge))
        w[:edge] = ramp
        w[n - edge :] = ramp[::-1]
        return w

    return np.outer(tukey(shape[0]), tukey(shape[1])).astype(np.float32)


@dataclass
class MotionTracker:
    """Accumulates per-step numbers from tiny grayscale frames at a fixed rate; keeps one frame only.

    It runs on every decoded frame, so each step is a handful of OpenCV calls on a ~64 px float32
    frame (no NumPy temporaries): the mean-removed frame is computed once and reused as the next
    step's reference. The plain difference is taken on the 8-bit frames themselves (exact).
    """

    cfg: VideoConfig
    times: list[float] = field(default_factory=list)  # time of the later frame of each step
    diff: list[float] = field(default_factory=list)  # mean |a - b|
    residual: list[float] = field(default_factory=list)  # mean |a shifted - b| after global translation
    dx: list[float] = field(default_factory=list)  # translation, share of the diagonal
    dy: list[float] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    brightness: list[float] = field(default_factory=list)
    _prev: np.ndarray | None = None  # previous frame, float32, mean removed
    _prev_tiny: np.ndarray | None = None  # previous frame as given (uint8)
    _window: np.ndarray | None = None

    def add(self, t: float, tiny: np.ndarray) -> None:
        mean = cv2.mean(tiny)[0]
        # Remove the mean first: otherwise a window's own imprint (window x mean brightness), the same in
        # both frames, wins the correlation at zero shift. Differences add the brightness step back.
        cur = cv2.subtract(tiny, mean, dtype=cv2.CV_32F)
        self.frame_times.append(t)
        self.brightness.append(mean)
        prev, prev_tiny = self._prev, self._prev_tiny
        prev_mean = self.brightness[-2] if len(self.brightness) > 1 else mean
        self._prev, self._prev_tiny = cur, tiny
        if prev is None or prev_tiny is None or prev.shape != cur.shape:
            return
        window = None
        if self.cfg.phase_taper > 0:
            if self._window is None or self._window.shape != cur.shape:
                self._window = _tukey_window(cur.shape, self.cfg.phase_taper)
            window = self._window
        # phaseCorrelate applies a window to its inputs in place (OpenCV 4.14): copy only then.
        a, b = (prev.copy(), cur.copy()) if window is not None else (prev, cur)
        (sx, sy), _response = cv2.phaseCorrelate(a, b, window)  # type: ignore[arg-type]
        h, w = cur.shape
        diag = math.hypot(h, w)
        # On the 8-bit frames: a sum of whole numbers, exact and the same on any machine.
        diff = cv2.norm(tiny, prev_tiny, cv2.NORM_L1) / tiny.size
        step = mean - prev_mean
        residual = diff
        mx, my = math.ceil(abs(sx)) + 1, math.ceil(abs(sy)) + 1
        if mx < w // 4 and my < h // 4:
            moved = cv2.warpAffine(prev, np.float32([[1, 0, sx], [0, 1, sy]]), (w, h))
            roi_moved, roi_cur = moved[my : h - my, mx : w - mx], cur[my : h - my, mx : w - mx]
            if step:
                roi_cur = roi_cur + step
            residual = cv2.norm(roi_moved, roi_cur, cv2.NORM_L1) / roi_cur.size
        else:  # a shift that large is not camera motion: a cut or a whip pan
            sx, sy = 0.0, 0.0
        self.times.append(t)
        self.diff.append(diff)
        self.residual.append(residual)
        self.dx.append(sx / diag)
        self.dy.append(sy / diag)


def detect_cuts(times: list[float], scores: list[float], cfg: VideoConfig) -> list[int]:
    """Indices of steps that are hard cuts: a change far above its neighbours' and above a floor.

    Like PySceneDetect's AdaptiveDetector, a step is a cut when its score is at least `cut_ratio` times
    the mean of the `cut_window` steps either side and at least `cut_min_score`; the score is the
    difference left after undoing the global translation, so a shaky handheld shot does not read as
    cuts. Cuts closer than `cut_min_shot_s` keep only the strongest.

    Why not PySceneDetect's detectors: they read every frame through OpenCV as full-size BGR and convert
    it to HSV, which alone costs more than this whole pass (see benchmarks/video_speed.py), and their
    scores are not motion-compensated, so a shaky phone shot yields false cuts unless the threshold is
    raised so far that real cuts between similar shots are missed.
    """
    s = np.asarray(scores, dtype=np.float64)
    cuts: list[int] = []
    k = cfg.cut_window
    for i in range(len(s)):
        if s[i] < cfg.cut_min_score:
            continue
        neigh = np.concatenate([s[max(0, i - k) : i], s[i + 1 : i + 1 + k]])
        base = float(neigh.mean()) if neigh.size else 0.0
        if s[i] < cfg.cut_ratio * max(base, cfg.cut_base_floor):
            continue
        if cuts and times[i] - times[cuts[-1]] < cfg.cut_min_shot_s:
            if s[i] > s[cuts[-1]]:
                cuts[-1] = i
            continue
        cuts.append(i)
    return cuts


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or x.size < 3:
        return x.copy()
    width = min(width, x.size if x.size % 2 else x.size - 1)
    pad = width // 2
    padded = np.pad(x, pad, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


@dataclass(frozen=True)
class MotionSummary:
    """Clip-level time cues and the cut times (seconds)."""

    cues: dict[str, float]
    cut_times: list[float]
    step_times: np.ndarray
    step_diff: np.ndarray
    is_cut: np.ndarray


def summarize_motion(tracker: MotionTracker, span_s: float, cfg: VideoConfig) -> MotionSummary:
    """Cuts, shot length, shake, camera motion, motion energy, static share and exposure drift."""
    nan = float("nan")
    times = np.asarray(tracker.times)
    if times.size < 2 or span_s <= 0:
        cues = dict.fromkeys(
            ("hard_cuts", "cuts_per_10s", "mean_shot_s", "shake", "camera_motion", "motion_energy",
             "static_share", "exposure_drift"),
            nan,
        )
        return MotionSummary(cues, [], times, np.asarray(tracker.diff), np.zeros(times.size, bool))
    cut_idx = detect_cuts(tracker.times, tracker.residual, cfg)
    is_cut = np.zeros(times.size, bool)
    is_cut[cut_idx] = True
    cut_times = [float(times[i]) for i in cut_idx]
    diff = np.asarray(tracker.diff)
    dx, dy = np.asarray(tracker.dx), np.asarray(tracker.dy)
    smooth_w = max(3, round(cfg.shake_smooth_s * cfg.motion_fps) | 1)

    # Shots are the runs of steps between cuts; shake and drift are measured inside each shot.
    bounds = [0, *[i for i in cut_idx], times.size]
    shake_sq: list[np.ndarray] = []
    speeds: list[np.ndarray] = []
    for a, b in pairwise(bounds):
        a = a + 1 if a in cut_idx else a  # the cut step itself belongs to no shot
        if b - a < 3:
            continue
        px, py = np.cumsum(dx[a:b]), np.cumsum(dy[a:b])
        sx, sy = _smooth(px, smooth_w), _smooth(py, smooth_w)
        shake_sq.append((px - sx) ** 2 + (py - sy) ** 2)
        speeds.append(np.hypot(np.diff(sx), np.diff(sy)) * cfg.motion_fps)
    shake = math.sqrt(float(np.concatenate(shake_sq).mean())) * 100 if shake_sq else nan
    camera_motion = float(np.concatenate(speeds).mean()) * 100 if speeds and any(s.size for s in speeds) else nan

    # Exposure drift: total variation of smoothed brightness within shots, per second.
    ftimes = np.asarray(tracker.frame_times)
    bright = np.asarray(tracker.brightness)
    frame_cut = np.zeros(ftimes.size, bool)
    for ct in cut_times:
        frame_cut[int(np.searchsorted(ftimes, ct))] = True
    starts = [0, *np.flatnonzero(frame_cut).tolist(), ftimes.size]
    variation, seconds = 0.0, 0.0
    for a, b in pairwise(starts):
        if b - a < 3:
            continue
        sb = _smooth(bright[a:b], smooth_w)
        variation += float(np.abs(np.diff(sb)).sum())
        seconds += float(ftimes[b - 1] - ftimes[a])
    exposure_drift = variation / seconds if seconds > 0 else nan

    within = diff[~is_cut]
    n_cuts = len(cut_idx)
    cues = {
        "hard_cuts": float(n_cuts),
        "cuts_per_10s": n_cuts / span_s * 10.0,
        "mean_shot_s": span_s / (n_cuts + 1),
        "shake": shake,
        "camera_motion": camera_motion,
        "motion_energy": float(within.mean()) if within.size else nan,
        "static_share": float((within < cfg.static_max_diff).mean()) if within.size else nan,
        "exposure_drift": exposure_drift,
    }
    return MotionSummary(cues, cut_times, times, diff, is_cut)


# -- the clip -------------------------------------------------------------------------------------
def _median(values: list[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(np.median(arr)) if arr.size else float("nan")


def _mean(values: list[float]) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")


@dataclass(frozen=True)
class Container:
    """Container facts the clip cues need (sizes as displayed)."""

    width: int
    height: int
    fps: float
    rotation: int
    bitrate_kbps: float | None
    has_audio: bool


def clip_cues(
    samples: list[tuple[float, dict[str, float]]],
    motion: MotionSummary,
    container: Container,
    cfg: VideoConfig,
) -> dict[str, float]:
    """All clip cues (`CUE_NAMES`) from per-sample cues, the motion summary and the container facts."""
    nan = float("nan")
    hook_end = cfg.hook_window_s

    def col(name: str, rows: list[tuple[float, dict[str, float]]]) -> list[float]:
        return [c[name] for _t, c in rows if name in c]

    face_rows = [(t, c) for t, c in samples if "faces" in c]
    face_counts = col("faces", face_rows)
    face_sizes = [c["face_size"] for _t, c in face_rows if c["faces"] > 0]
    text = col("text_coverage", samples)
    letterbox = _median(col("letterbox_share", samples))
    vertical = container.height > container.width
    out: dict[str, float] = {
        "width": float(container.width),
        "height": float(container.height),
        "fps": container.fps if container.fps > 0 else nan,
        "rotation": float(container.rotation),
        "bitrate_kbps": container.bitrate_kbps if container.bitrate_kbps is not None else nan,
        "has_audio": float(container.has_audio),
        "vertical": float(vertical),
        "native_vertical": float(vertical and not (letterbox > cfg.letterbox_min_share)),
        "sharpness": _median(col("sharpness", samples)),
        "noise": _median(col("noise", samples)),
        "colourfulness": _median(col("colourfulness", samples)),
        "saturation": _median(col("saturation", samples)),
        "brightness": _median(col("brightness", samples)),
        "contrast": _median(col("contrast", samples)),
        "highlights_clipped": _mean(col("highlights_clipped", samples)),
        "shadows_clipped": _mean(col("shadows_clipped", samples)),
        "edge_density": _median(col("edge_density", samples)),
        "text_coverage": _mean(text),
        "text_frame_share": _mean([float(v >= cfg.text_frame_min_coverage) for v in text]),
        "face_share": _mean([float(n > 0) for n in face_counts]),
        "face_size": _median(face_sizes) if face_sizes else (0.0 if face_counts else nan),
        "faces_per_frame": _mean(face_counts),
        "letterbox_share": letterbox,
        **motion.cues,
    }
    # The hook: the opening `hook_window_s` against the rest.
    hook = [(t, c) for t, c in samples if t < hook_end]
    steps_in_hook = (motion.step_times < hook_end) & ~motion.is_cut
    steps_rest = (motion.step_times >= hook_end) & ~motion.is_cut
    hook_motion = float(motion.step_diff[steps_in_hook].mean()) if steps_in_hook.any() else nan
    rest_motion = float(motion.step_diff[steps_rest].mean()) if steps_rest.any() else nan
    hook_faces = col("faces", [(t, c) for t, c in hook if "faces" in c])
    out["hook_motion_energy"] = hook_motion
    out["hook_motion_ratio"] = (
        hook_motion / max(rest_motion, cfg.static_max_diff) if not math.isnan(hook_motion + rest_motion) else nan
    )
    out["hook_cuts"] = float(sum(t < hook_end for t in motion.cut_times)) if motion.step_times.size else nan
    out["hook_face_share"] = _mean([float(n > 0) for n in hook_faces])
    out["hook_text_coverage"] = _mean(col("text_coverage", hook))
    return {name: out.get(name, nan) for name in CUE_NAMES}
