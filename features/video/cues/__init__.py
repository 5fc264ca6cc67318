"""Polish cues: numbers that say how produced a video looks, from small frames (no I/O here).

One family of cues a module, as PySceneDetect keeps one detector a module:
- picture.py and composition.py: cues on one BGR frame at analysis size (longer side
  `video.analysis_long_side`, so every cue is measured at the same scale whatever the upload's resolution:
  that is the resolution normalisation);
- motion.py: tiny grayscale frames at a fixed rate (`video.motion_fps`) give frame differences, global
  translation by phase correlation and brightness over time;
- clip.py: all cues of one sample frame (`frame_cues`), and the clip aggregate (`clip_cues`) with the hook
  window against the rest;
- catalogue.py: every cue declared once (name, description, words, how it is summarised, polish);
- sample.py: what a cue function sees (a sample frame, the whole clip) and their registers (`@per_frame`,
  `@per_clip`).

Why these cues: content that looks like an ad is swiped past, and on real footage "looks like an ad"
means fast editing (hard cuts), a locked-off or gimbal camera (no shake), graded colour, clean and sharp
pictures, text and graphics overlays, letterboxed landscape footage, and fewer faces talking to the
camera. Native phone footage is one handheld take, with auto-exposure drifting and sensor noise.
"""
