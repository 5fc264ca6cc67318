"""Caption features on hand-made captions."""

from __future__ import annotations

import pandas as pd

from features import caption
from sparkpick.config import CaptionConfig

CFG = CaptionConfig(
    disclosure_tags=["ad", "sponsored", "partner"],
    cta_phrases=["link in bio", "shop", "shop now", "use code"],
    brand_terms={"a": ["GlowCo"]},
)
CAPTIONS = pd.Series(
    [
        "Shop now! Link in bio #AD #skincare @glowco",
        "what do you think? 🌞☕ #adventure",
        None,
        "",
        "¿Te gusta? use   code GLOW, shopping later",
        "#partner 👩‍👩‍👧 🇳🇱 👍🏽",
    ]
)


def test_counts() -> None:
    assert caption.caption_length(CAPTIONS).tolist()[:4] == [43.0, 32.0, 0.0, 0.0]
    assert caption.word_count(CAPTIONS).tolist()[:4] == [8.0, 6.0, 0.0, 0.0]
    assert caption.hashtag_count(CAPTIONS).tolist() == [2.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert caption.mention_count(CAPTIONS).tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert caption.has_question(CAPTIONS).tolist() == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    # The family is 3 pictographs joined by zero-width joiners; the flag is 2 regional letters; the
    # skin tone does not count on its own.
    assert caption.emoji_count(CAPTIONS).tolist() == [0.0, 2.0, 0.0, 0.0, 0.0, 6.0]


def test_disclosure_matches_whole_tags_only() -> None:
    got = caption.disclosure_tag(CAPTIONS, CFG.disclosure_tags).tolist()
    assert got == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]  # #adventure is not #ad


def test_cta_phrases_whole_words_longest_first() -> None:
    got = caption.cta_count(CAPTIONS, CFG.cta_phrases).tolist()
    # "Shop now" once (not "shop" again), "Link in bio"; "use   code"; "shopping" is not "shop".
    assert got == [2.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert caption.cta_count(CAPTIONS, []).sum() == 0


def test_brand_mention_uses_own_handles_and_config_terms() -> None:
    creators = pd.DataFrame({"creator_id": ["c0", "c1"], "handle": ["glow.official", "someone"]})
    partnerships = pd.DataFrame(
        {"advertiser_id": ["a", "a"], "creator_id": ["c0", "c1"], "kind": ["own", "ongoing"]}
    )
    terms = caption.brand_terms(creators, partnerships, CFG)
    assert sorted(terms["a"]) == ["GlowCo", "glow.official"]
    caps = pd.Series(["love @glowco", "via @glow.official", "glowcommunity", "love glowco"])
    got = caption.brand_mention(caps, pd.Series(["a", "a", "a", "b"]), terms).tolist()
    assert got == [1.0, 1.0, 0.0, 0.0]  # advertiser b has no terms


def test_caption_features_frame_is_keyed_by_post() -> None:
    posts = pd.DataFrame(
        {"post_id": [f"p{i}" for i in range(len(CAPTIONS))], "advertiser_id": ["a"] * 6, "caption": CAPTIONS}
    )
    f = caption.caption_features(posts, CFG, {"a": ["glowco"]})
    assert list(f.index) == list(posts["post_id"])
    assert f.notna().all().all()
    assert f.loc["p0", "brand_mention"] == 1.0
