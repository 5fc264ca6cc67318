"""The money rules on cases with a known answer."""

from __future__ import annotations

import pandas as pd

from sparkpick import guardrails
from sparkpick.config import Settings, with_overrides


def test_budget_raise_takes_the_smaller_step_and_stops_at_the_cap() -> None:
    assert guardrails.budget_raise(50.0, 50.0, 200.0, 0.2).new_budget == 60.0
    assert guardrails.budget_raise(50.0, 50.0, 200.0, 0.2, proposed_share=0.1).new_budget == 55.0
    assert guardrails.budget_raise(50.0, 50.0, 200.0, 0.2, proposed_share=0.9).new_budget == 60.0
    assert guardrails.budget_raise(50.0, 150.0, 155.0, 0.2).new_budget == 55.0  # 100 elsewhere
    step = guardrails.budget_raise(50.0, 150.0, 150.0, 0.2)
    assert not step.verdict.allowed and step.new_budget is None and "cap" in step.verdict.why


def test_cap_once_a_day_min_spend() -> None:
    assert guardrails.within_cap(50, 150, 200).allowed and not guardrails.within_cap(50, 150.01, 200).allowed
    t = pd.Timestamp("2026-11-01 06:00")
    assert not guardrails.budget_change_due(t, t + pd.Timedelta(hours=23), 24).allowed
    assert guardrails.budget_change_due(t, t + pd.Timedelta(hours=24), 24).allowed
    assert guardrails.budget_change_due(None, t, 24).allowed
    assert not guardrails.pause_due(19.99, 20).allowed and guardrails.pause_due(20, 20).allowed
    assert not guardrails.pause_due(float("nan"), 20).allowed


def test_kill_switch_and_breaker(settings: Settings) -> None:
    cfg = settings.actions
    assert guardrails.kill_switch(cfg, False).allowed
    assert "kill switch" in guardrails.kill_switch(cfg, True).why
    off = with_overrides(settings, {"actions": {"enabled": False}}).actions
    assert "actions.enabled" in guardrails.kill_switch(off, False).why
    assert guardrails.circuit_breaker(cfg, cfg.circuit_breaker_failures - 1).allowed
    assert not guardrails.circuit_breaker(cfg, cfg.circuit_breaker_failures).allowed
