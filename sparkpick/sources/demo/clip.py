"""What one demo clip is: the spec a render worker draws it from, and the spec as one JSON line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sparkpick.sources.demo.drawing import BGR


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one post's video, independent of any table."""

    post_id: str
    path: str
    seed: int
    width: int
    height: int
    fps: int
    n_frames: int
    polish: float
    produced: bool
    hook: float
    authenticity: float
    topic_fit: float
    primary: BGR
    accent: BGR
    initials: str
    # The creator's skin tone; None for brand accounts (a different model in each clip).
    skin: BGR | None
    preset: str = "ultrafast"
    crf: int = 32
    keyframe_interval_s: float = 2.0


def spec_to_json(spec: ClipSpec) -> str:
    return json.dumps(asdict(spec))


def spec_from_json(line: str) -> ClipSpec:
    data = json.loads(line)
    for key in ("primary", "accent", "skin"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    return ClipSpec(**data)
