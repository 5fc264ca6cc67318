"""Plain-OpenCV measures of a clip's look, used by the demo-world tests (independent of sparkpick's own cues)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Mean absolute grey-level change between frames above which a change counts as a hard cut.
CUT_THRESHOLD = 20.0


def global_motion(a: np.ndarray, b: np.ndarray) -> float:
    """Median displacement (px) of corners tracked from grey frame a to grey frame b (Lucas-Kanade)."""
    points = cv2.goodFeaturesToTrack(a, 100, 0.01, 5)
    if points is None:
        return 0.0
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, points, None)
    shift = (moved - points)[status[:, 0] == 1][:, 0]
    return float(np.median(np.hypot(shift[:, 0], shift[:, 1]))) if len(shift) else 0.0


def noise_level(gray: np.ndarray) -> float:
    """Mean absolute difference from a 3x3 median: fine-grained sensor noise (grey levels)."""
    return float(np.abs(gray.astype(np.float32) - cv2.medianBlur(gray, 3)).mean())


def clip_measures(path: Path) -> tuple[float, float, float]:
    """Hard cuts per second, median camera motion between frames (px) and noise level of a video file."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    prev, cuts, frames, motion, noise = None, 0, 0, [], []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        smooth = cv2.GaussianBlur(gray, (0, 0), 1.5)
        noise.append(noise_level(gray))
        if prev is not None:
            if np.abs(smooth.astype(np.float32) - prev.astype(np.float32)).mean() >= CUT_THRESHOLD:
                cuts += 1
            else:
                motion.append(global_motion(prev, smooth))
        prev = smooth
        frames += 1
    cap.release()
    return cuts / (frames / fps), float(np.median(motion)) if motion else 0.0, float(np.mean(noise))
