"""Caption features: plain text statistics that hold in any language.

The only language-specific parts are the word lists (disclosure hashtags, call-to-action phrases, brand
names), which live in `features.caption` of the config. A missing caption is an empty one (TikTok posts
may have none), so these features are never NaN. Captions do not change over time, so these are
per-post values, valid at any T.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from sparkpick.config import CaptionConfig

HASHTAG = re.compile(r"#(\w+)")
MENTION = re.compile(r"@[\w.]+")
QUESTION = re.compile(r"[?？¿؟]")
# Emoji pictographs, symbols, dingbats and flag letters; joiners, variation selectors and skin-tone
# modifiers (U+1F3FB-1F3FF) are not counted, so a composed emoji counts once per pictograph in it.
EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff\U0001f300-\U0001f3fa\U0001f400-\U0001f5ff\U0001f600-\U0001f64f"
    "\U0001f680-\U0001f6ff\U0001f700-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff]"
)


def _text(captions: pd.Series) -> pd.Series:
    return captions.astype("object").where(captions.notna(), "").astype(str)


def caption_length(captions: pd.Series) -> pd.Series:
    """Caption length in characters. Long captions read as ads; very short ones give no context."""
    return _text(captions).str.len().astype("float64")


def word_count(captions: pd.Series) -> pd.Series:
    """Whitespace-separated tokens in the caption (words, hashtags and mentions alike)."""
    return _text(captions).str.split().str.len().fillna(0).astype("float64")


def hashtag_count(captions: pd.Series) -> pd.Series:
    """Number of #hashtags. Hashtag stuffing is a marketing tell; one or two help discovery."""
    return _text(captions).str.count(HASHTAG.pattern).astype("float64")


def mention_count(captions: pd.Series) -> pd.Series:
    """Number of @mentions (brand tags, collaborators)."""
    return _text(captions).str.count(MENTION.pattern).astype("float64")


def has_question(captions: pd.Series) -> pd.Series:
    """1 if the caption asks a question (any script's question mark): questions invite comments."""
    return _text(captions).str.contains(QUESTION.pattern).astype("float64")


def emoji_count(captions: pd.Series) -> pd.Series:
    """Number of emoji pictographs in the caption: a casual, native register."""
    return _text(captions).str.count(EMOJI.pattern).astype("float64")


def disclosure_tag(captions: pd.Series, tags: Iterable[str]) -> pd.Series:
    """1 if a hashtag discloses a paid partnership (#ad, #sponsored, ...; case-insensitive, whole tag).
    Disclosed posts are already read as ads by their organic audience."""
    wanted = {t.casefold().lstrip("#") for t in tags}
    found = _text(captions).map(lambda s: any(h.casefold() in wanted for h in HASHTAG.findall(s)))
    return found.astype("float64")


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, so "shop now" is one match rather than "shop" plus leftovers.
    items = sorted({p.strip() for p in phrases if p.strip()}, key=len, reverse=True)
    if not items:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, p.split())) for p in items)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def cta_count(captions: pd.Series, phrases: Iterable[str]) -> pd.Series:
    """Number of call-to-action phrases ("link in bio", "use code", ...), whole words, case-insensitive.
    Hard selling in the caption makes a post look like an ad."""
    pattern = _phrase_pattern(phrases)
    if pattern is None:
        return pd.Series(0.0, index=captions.index)
    return _text(captions).map(lambda s: len(pattern.findall(s))).astype("float64")


def brand_mention(captions: pd.Series, advertiser_ids: pd.Series, terms: dict[str, list[str]]) -> pd.Series:
    """1 if the caption names the post's brand (any of its terms, with or without '@' or '#',
    whole words, case-insensitive). A creator naming the brand makes the post usable as its ad."""
    patterns = {adv: _phrase_pattern(t) for adv, t in terms.items()}
    text = _text(captions)
    values = [
        float(bool((pattern := patterns.get(adv)) and pattern.search(s)))
        for s, adv in zip(text.to_numpy(), advertiser_ids.to_numpy(), strict=True)
    ]
    return pd.Series(values, index=captions.index, dtype="float64")


def brand_terms(
    creators: pd.DataFrame, partnerships: pd.DataFrame, config: CaptionConfig
) -> dict[str, list[str]]:
    """Per advertiser, the names that count as a brand mention: the handles of its own accounts
    (partnership kind "own") plus the configured `brand_terms`."""
    terms: dict[str, list[str]] = {adv: list(t) for adv, t in config.brand_terms.items()}
    own = partnerships[partnerships["kind"] == "own"].merge(creators[["creator_id", "handle"]], on="creator_id")
    for adv, handle in zip(own["advertiser_id"], own["handle"], strict=True):
        if isinstance(handle, str) and handle.strip():
            terms.setdefault(adv, []).append(handle.strip().lstrip("@"))
    return terms


def caption_features(
    posts: pd.DataFrame, config: CaptionConfig, terms: dict[str, list[str]]
) -> pd.DataFrame:
    """All caption features per post, indexed by `post_id`."""
    caps = posts["caption"]
    out = pd.DataFrame(index=posts.index)
    out["caption_length"] = caption_length(caps)
    out["caption_words"] = word_count(caps)
    out["hashtag_count"] = hashtag_count(caps)
    out["mention_count"] = mention_count(caps)
    out["brand_mention"] = brand_mention(caps, posts["advertiser_id"], terms)
    out["disclosure_tag"] = disclosure_tag(caps, config.disclosure_tags)
    out["cta_count"] = cta_count(caps, config.cta_phrases)
    out["has_question"] = has_question(caps)
    out["emoji_count"] = emoji_count(caps)
    out.index = pd.Index(posts["post_id"].to_numpy(), name="post_id")
    return out.astype(np.float64)
