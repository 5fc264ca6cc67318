"""What the worker pool's forkserver loads once, so that every forked child starts ready to extract.

Imported for its effect (see `pool._PRELOAD`): besides the extraction code and its libraries, it loads
the face cascade, whose XML takes ~0.3 s of CPU to parse, more than extracting a small clip; children
forked from a process that holds it inherit it instead of parsing it again.
"""

from __future__ import annotations

from features.video.cues import face_cascade
from features.video.extract import extract_video

__all__ = ["extract_video", "face_cascade"]

face_cascade()
