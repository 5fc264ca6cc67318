"""One vocabulary: every decision, flag, action kind and status has its words, the page shows every decision, and a name the
vocabulary does not know fails loudly wherever it is read."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pandas as pd
import pytest

from features.readiness import BLOCKING_FLAGS
from sparkpick.report import MonitorView, ReportMeta, render_shortlist_html
from sparkpick.vocabulary import (
    FLAG_COLUMNS,
    ActionKind,
    ActionStatus,
    Decision,
    Flag,
    UnknownTermError,
    require_words,
)
from sparkpick.wording import (
    ACTION_KINDS,
    ACTION_STATUSES,
    DECISION_WORDS,
    FLAG_WORDS,
    action_sentence,
    decision_help,
    decision_label,
    flag_help,
    flag_label,
    live_boosts_line,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "sparkpick" / "templates" / "shortlist.html.j2"
AS_OF = pd.Timestamp("2026-11-01 01:00")


def meta() -> ReportMeta:
    return ReportMeta(as_of=AS_OF, ran_at=AS_OF, model_version="1", candidates_considered=0, polish_ad_threshold=65.0)


def boosts(decisions: list[str]) -> MonitorView:
    rows = [{"advertiser_id": "adv-1", "post_id": f"p{i}", "boosted_at": AS_OF - pd.Timedelta(hours=10 + i),
             "hours_live": 10 + i, "spend": 50.0, "conversions": 1, "cpa": 50.0, "baseline_cpa": 40.0,
             "decision": d, "reason": f"reason {i}"} for i, d in enumerate(decisions)]
    return MonitorView(boosts=pd.DataFrame(rows), hourly=pd.DataFrame())


def test_every_decision_and_flag_has_its_words() -> None:
    assert set(DECISION_WORDS) == set(Decision) and set(FLAG_WORDS) == set(Flag)
    for d in Decision:
        assert decision_label(d) and decision_help(d).endswith(".")
        assert decision_label(d.value) == decision_label(d)
    labels = [flag_label(f) for f in Flag]
    assert len(set(labels)) == len(Flag)  # a marketer tells them apart
    for f in Flag:
        text = flag_help(f, auth_expiry_days=5, calibration_hours=36.0)
        assert text.endswith(".") and "{" not in text
        assert flag_label(f.column) == flag_label(f)
    assert "5 days" in flag_help(Flag.AUTH_EXPIRING, 5, 36.0) and "36 hours" in flag_help(Flag.CALIBRATING, 5, 36.0)
    # an expiring code blocks a boost (it takes no slot): its help asks for a renewal, never "launch soon"
    assert "renew" in flag_help(Flag.AUTH_EXPIRING, 5, 36.0) and "launch" not in flag_help(Flag.AUTH_EXPIRING, 5, 36.0)


def test_a_table_missing_a_member_fails_at_once() -> None:
    class Colour(StrEnum):
        RED = "red"
        BLUE = "blue"

    with pytest.raises(UnknownTermError, match="colour blue"):
        require_words(Colour, {Colour.RED: "Red"})
    assert require_words(Colour, {Colour.RED: "Red", Colour.BLUE: "Blue"})[Colour.BLUE] == "Blue"


@pytest.mark.parametrize("value", ["stop", "Pause", "", None, float("nan")])
def test_an_unknown_decision_fails_loudly_naming_it(value: object) -> None:
    with pytest.raises(UnknownTermError, match=r"Unknown decision .*the known ones are pause, scale, keep, too_early"):
        decision_label(value)
    with pytest.raises(UnknownTermError, match="Unknown decision"):
        render_shortlist_html(pd.DataFrame(), meta(), {}, boosts(["keep", value]))  # type: ignore[list-item]
    with pytest.raises(UnknownTermError, match="Unknown decision"):
        live_boosts_line(2, ["pause", value])


def test_an_unknown_flag_fails_loudly() -> None:
    assert Flag.of("flag_no_auth_code") is Flag.NO_AUTH_CODE is Flag.of("no_auth_code")
    with pytest.raises(UnknownTermError, match="Unknown flag 'flag_no_cod'"):
        flag_label("flag_no_cod")


def test_the_page_shows_every_decision_with_its_words() -> None:
    html = render_shortlist_html(pd.DataFrame(), meta(), {}, boosts([d.value for d in Decision]))
    cards = re.findall(r'data-decision="(\w+)"', html)
    assert cards == [d.value for d in Decision]  # the ones to act on first
    for d in Decision:
        assert f">{decision_label(d)}</" in html
        assert decision_help(d).replace("'", "&#39;") in html


def test_the_template_styles_every_decision() -> None:
    # The live cards take their colour from the decision's name: a new decision needs its style.
    template = TEMPLATE.read_text(encoding="utf-8")
    for d in Decision:
        assert f".live-card.{d.value} " in template and f".decision.{d.value} " in template, d


def test_flags_in_table_order_and_which_block() -> None:
    assert FLAG_COLUMNS == ("flag_no_auth_code", "flag_auth_expiring", "flag_no_usage_rights", "flag_calibrating",
                            "flag_looks_like_ad")
    # every flag holds a boost back, a code lapsing within the week too (it cannot carry a boost through)
    assert set(BLOCKING_FLAGS) == set(FLAG_COLUMNS)


def test_the_nights_line_counts_what_acts() -> None:
    line = live_boosts_line(5, ["pause", "keep", "scale", "pause", Decision.TOO_EARLY])
    assert line == "5 live boost(s) watched: 2 to pause, 1 to add budget to (the report's Live boosts section says why)."
    assert live_boosts_line(1, ["keep"]) == "1 live boost(s) watched (the report's Live boosts section says why)."


def test_every_action_kind_and_status_has_its_words() -> None:
    assert set(ACTION_KINDS) == set(ActionKind) and set(ACTION_STATUSES) == set(ActionStatus)
    assert len(set(ACTION_STATUSES.values())) == len(ActionStatus)
    for kind in ActionKind:
        for status in ActionStatus:
            line = action_sentence(kind.value, "p1", status.value)
            assert line == f"Post p1: {ACTION_KINDS[kind]} - {ACTION_STATUSES[status]}"
            assert "_" not in line  # never a raw name such as not_applied or undo_scale


@pytest.mark.parametrize(("kind", "status", "error"), [
    ("pause_ad", "done", r"Unknown action kind 'pause_ad': the known ones are launch, authorize, "),
    ("pause", "ok", r"Unknown action status 'ok': the known ones are planned, refused, "),
    ("pause", None, r"Unknown action status None"),
])
def test_an_unknown_action_kind_or_status_fails_loudly(kind: str, status: str, error: str) -> None:
    with pytest.raises(UnknownTermError, match=error):
        action_sentence(kind, "p1", status)
