"""What the worker pool's forkserver loads once, so that every forked child starts ready to extract.

Imported for its effect (see `pool._PRELOAD`): besides the extraction code and its libraries, it loads
the face cascade, whose XML takes ~15 ms of CPU to parse, a quarter of extracting a small clip;
children forked from a process that holds it inherit it instead of parsing it again.
"""

from __future__ import annotations

from features.video import pool
from features.video.cues.composition import face_cascade
from features.video.extract import extract_video

# `pool` too: each child runs `pool._child`, and importing it there would cost ~10 ms per video.
__all__ = ["extract_video", "face_cascade", "pool"]

face_cascade()
