"""A small, valid local folder in the data contract, written by hand, for ingest tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

POST_A = "7300000000000000001"  # 19 digits: a float would corrupt it
POST_B = "7300000000000000002"
POST_C = "7300000000000000003"

FILES: dict[str, str] = {
    "creators.csv": """creator_id,handle,follower_count,is_brand_account,extra_column
c1,@brand,120000,true,ignored
c2,@maya,45000,false,ignored
c3,@li,900,false,
""",
    "partnerships.csv": """advertiser_id,creator_id,kind,started_at,usage_rights
adv1,c1,own,2026-01-01T00:00:00Z,true
adv1,c2,ongoing,2026-02-01,true
adv1,c3,one_off,2026-03-01T10:00:00+02:00,false
""",
    "posts.csv": f"""post_id,advertiser_id,creator_id,posted_at,caption,video_path,spark_auth_status,spark_auth_expires_at
{POST_A},adv1,c1,2026-04-01T12:00:00Z,New drop! #ad,videos/a.avi,authorized,2026-05-01T12:00:00Z
{POST_B},adv1,c2,2026-04-02T12:00:00Z,"honest review, with a comma",,requested,
{POST_C},adv1,c3,2026-04-03T12:00:00,<script>alert(1)</script>,,none,
""",
    "metrics.csv": f"""post_id,observed_at,views,likes,comments,shares,avg_watch_s,full_watch_rate,reach
{POST_A},2026-04-01T18:00:00Z,1000,50,5,2,4.5,0.20,900
{POST_A},2026-04-02T12:00:00Z,5000,300,20,15,5.0,0.25,
{POST_B},2026-04-03T12:00:00Z,800,90,12,9,7.5,0.40,700
{POST_C},2026-04-04T12:00:00Z,100,3,0,0,2.0,0.05,
""",
    "spark_results.csv": f"""post_id,boosted_at,ended_at,spend,impressions,views_2s,views_6s,likes,comments,shares,clicks,conversions,boost_propensity
{POST_A},2026-04-05T00:00:00Z,2026-04-12T00:00:00Z,500.0,100000,32000,15000,900,40,30,1200,25,0.6
{POST_B},2026-04-06T00:00:00Z,2026-04-13T00:00:00Z,300.0,60000,24000,12000,800,50,60,900,20,
""",
    "baselines.csv": """advertiser_id,period_start,period_end,spend,impressions,views_2s,likes,comments,shares,clicks,conversions
adv1,2026-04-01,2026-04-30T23:59:59Z,10000.0,2000000,600000,8000,300,200,20000,300
""",
}


def write_folder(folder: Path, overrides: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Path:
    """Write the valid folder, with some files replaced or left out, plus a real tiny video."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {**FILES, **(overrides or {})}.items():
        if name not in drop:
            (folder / name).write_text(text, encoding="utf-8")
    (folder / "videos").mkdir(exist_ok=True)
    writer = cv2.VideoWriter(str(folder / "videos" / "a.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 112))
    rng = np.random.default_rng(0)
    for _ in range(10):
        writer.write(rng.integers(0, 255, (112, 64, 3), dtype=np.uint8))
    writer.release()
    return folder


def replace_line(name: str, old: str, new: str) -> dict[str, str]:
    text = FILES[name]
    assert old in text, f"{old!r} not in {name}"
    return {name: text.replace(old, new, 1)}
