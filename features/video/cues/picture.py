"""Picture cues of one frame at analysis size: sharpness, grain and colourfulness (exact where they can be)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from features.video.cues.sample import Sample, per_frame

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _exact_mean(values: np.ndarray) -> float:
    """Mean of whole numbers (below 2^53 in total): exact, so the same whatever the summation order."""
    return float(values.sum(dtype=np.float64)) / values.size


def flat_mask(g: np.ndarray, quantile: float) -> np.ndarray:
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
    return masked_sharpness(g, flat_mask(g, flat_quantile), noise_k)


def masked_sharpness(g: np.ndarray, flat: np.ndarray, noise_k: float) -> float:
    """`sharpness` of a float32 luma `g` whose flat-area mask (`flat_mask`) is already known."""
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
    return masked_noise(g, flat_mask(g, flat_quantile))


def masked_noise(g: np.ndarray, flat_full: np.ndarray) -> float:
    """`noise_sigma` of a float32 luma `g` whose flat-area mask (`flat_mask`) is already known."""
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
    opp = cv2.transform(bgr.astype(np.float32), np.array([[0, -1, 1], [-1, 0.5, 0.5]], dtype=np.float32))
    mean, std = cv2.meanStdDev(opp)
    return float(math.hypot(std[0, 0], std[1, 0]) + 0.3 * math.hypot(mean[0, 0], mean[1, 0]))


# -- the picture cues of one sample, as the catalogue names them ------------------------------------------
@per_frame("sharpness")
def sharpness_of(s: Sample) -> float:
    return masked_sharpness(s.luma, s.flat, s.cfg.sharpness_noise_k)


@per_frame("noise")
def noise_of(s: Sample) -> float:
    return masked_noise(s.luma, s.flat)


@per_frame("colourfulness")
def colourfulness_of(s: Sample) -> float:
    return colourfulness(s.bgr)


@per_frame("saturation")
def saturation_of(s: Sample) -> float:
    return cv2.mean(cv2.cvtColor(s.bgr, cv2.COLOR_BGR2HSV)[..., 1])[0] / 255.0


@per_frame("brightness")
def brightness_of(s: Sample) -> float:
    return s.mean_std[0] / 255.0


@per_frame("contrast")
def contrast_of(s: Sample) -> float:
    return s.mean_std[1] / 255.0


@per_frame("highlights_clipped")
def highlights_clipped_of(s: Sample) -> float:
    return np.count_nonzero(s.gray >= s.cfg.clip_high) / float(s.gray.size)


@per_frame("shadows_clipped")
def shadows_clipped_of(s: Sample) -> float:
    return np.count_nonzero(s.gray <= s.cfg.clip_low) / float(s.gray.size)


@per_frame("edge_density")
def edge_density_of(s: Sample) -> float:
    return cv2.countNonZero(cv2.Canny(s.gray, s.cfg.canny_low, s.cfg.canny_high)) / float(s.gray.size)
