"""The cue catalogue: every video cue's name and its plain-English description with its unit.

`CUE_DESCRIPTIONS` documents each cue (formula and unit) for reports; its order is the column order of
`video_features`.
"""

from __future__ import annotations

from features.video import VIDEO_PREFIX

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
