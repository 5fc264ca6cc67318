"""Every sentence a marketer reads, in one convention for ratios and money (`conventions.py`): the shortlist's
words, the live boosts' and the actions'. Callers import from here."""

from sparkpick.wording.actions import (
    ACTION_KINDS,
    ACTION_STATUSES,
    action_sentence,
    actions_stopped_sentence,
    approval_field_texts,
    recommendations_sentence,
)
from sparkpick.wording.conventions import (
    SAME_COST_BAND,
    age_phrase,
    as_number,
    as_text,
    chance_phrase,
    compact_count,
    conversions_phrase,
    cost_phrase,
    cost_range_phrase,
    log_cost_phrase,
    money,
    ratio_phrase,
    ratio_range_phrase,
    span_phrase,
)
from sparkpick.wording.live import (
    DECISION_WORDS,
    LiveFacts,
    decision_help,
    decision_label,
    live_boosts_line,
    live_reason,
    retrain_sentence,
    track_record_sentence,
)
from sparkpick.wording.shortlist import (
    FAR_FROM_NOW_HOURS,
    FLAG_WORDS,
    PRIOR_BAND_NOTE,
    PRIOR_LABEL,
    TEST_PICK_LABEL,
    TEST_PICK_SENTENCE,
    advertiser_label,
    band_sentence,
    boost_again_sentence,
    boosts_known,
    far_from_now_sentence,
    flag_help,
    flag_label,
    held_back_sentence,
    left_out_sentence,
    name_advertisers,
    ranking_headline,
    ranking_label,
    ratio_band,
    readable_list,
    top_picks_table,
    uplift_sentence,
)

__all__ = [
    "ACTION_KINDS", "ACTION_STATUSES", "DECISION_WORDS", "FAR_FROM_NOW_HOURS", "FLAG_WORDS", "PRIOR_BAND_NOTE",
    "PRIOR_LABEL", "SAME_COST_BAND", "TEST_PICK_LABEL", "TEST_PICK_SENTENCE", "LiveFacts", "action_sentence",
    "actions_stopped_sentence", "advertiser_label", "age_phrase", "approval_field_texts", "as_number", "as_text",
    "band_sentence", "boost_again_sentence", "boosts_known", "chance_phrase", "compact_count", "conversions_phrase",
    "cost_phrase", "cost_range_phrase", "decision_help", "decision_label", "far_from_now_sentence", "flag_help",
    "flag_label", "held_back_sentence", "left_out_sentence", "live_boosts_line", "live_reason", "log_cost_phrase",
    "money", "name_advertisers", "ranking_headline", "ranking_label", "ratio_band", "ratio_phrase",
    "ratio_range_phrase", "readable_list", "recommendations_sentence", "retrain_sentence", "span_phrase",
    "top_picks_table", "track_record_sentence", "uplift_sentence",
]
