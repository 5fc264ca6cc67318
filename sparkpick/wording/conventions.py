"""The conventions every marketer-facing sentence follows: costs as ratios ("2.3x your in-feed cost"),
money in the advertiser's currency, chances, counts and ages."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

# Ratios this close to 1 read as "about your in-feed cost" rather than a difference nobody can act on.
SAME_COST_BAND = 0.05

# The few currencies whose sign reads better than their code; any other shows its ISO code after the amount.
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£"}


def as_number(value: Any) -> float | None:
    """A finite-or-infinite float, or None for a missing, NaN or non-numeric value."""
    if value is None or value is pd.NA:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def money(value: Any, currency: Any = None, exact: bool = False) -> str:
    """An amount in the advertiser's currency (`advertisers.currency`, ISO 4217): "$310", "€9.50",
    "4,200 JPY"; whole units from 10 up unless `exact` (cents always: "$120.01", for budgets compared with a
    cap). With no known currency the amount is a bare number ("1,234"), and whatever shows it says once,
    with `currency_note`, that amounts are in the ad account's currency. "–" when there is no amount."""
    v = as_number(value)
    if v is None:
        return "–"
    amount = f"{v:,.0f}" if abs(v) >= 10 and not exact else f"{v:,.2f}"
    if not known_currency(currency):
        return amount
    sign = _CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount}" if sign else f"{amount} {currency}"


def known_currency(currency: Any) -> bool:
    """Whether `currency` names one (an ISO 4217 code from `advertisers.currency`), not missing or blank."""
    return isinstance(currency, str) and bool(currency.strip())


# Said once wherever bare amounts are shown (a live boost's card): the one convention for an unknown currency.
UNKNOWN_CURRENCY_NOTE = "Amounts are in the ad account's currency (the advertisers table does not say which)."


def currency_note(currency: Any) -> str:
    """UNKNOWN_CURRENCY_NOTE when `currency` is unknown (its amounts are bare numbers), else ""."""
    return "" if known_currency(currency) else UNKNOWN_CURRENCY_NOTE


def cost_phrase(ratio: Any) -> str:
    """A cost-per-conversion ratio (Spark CPA / in-feed CPA) in the one convention every sentence follows:
    "2.3x your in-feed cost", "0.62x your in-feed cost", "about your in-feed cost" (within SAME_COST_BAND).
    Comparisons in words say "more expensive" and "cheaper" (never "dearer")."""
    r = as_number(ratio)
    if r is None or r <= 0 or math.isinf(r):
        return "not comparable with your in-feed cost"
    if abs(r - 1.0) < SAME_COST_BAND:
        return "about your in-feed cost"
    return f"{_times(r)} your in-feed cost"


def _times(r: float) -> str:
    """"2.3x"; two decimals below 1, where one would round a real difference away ("0.96x", not "1.0x")."""
    return f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


def log_cost_phrase(uplift: Any) -> str:
    """An uplift in the label's log units (log(in-feed CPA / Spark CPA)) as cost_phrase: "0.55x your in-feed cost"."""
    v = as_number(uplift)
    return "no estimate" if v is None else cost_phrase(math.exp(-max(-50.0, min(50.0, v))))


def cost_range_phrase(low_uplift: Any, high_uplift: Any, unit: bool = True) -> str:
    """A band of log uplifts as costs, cheapest first: "0.62x to 1.4x your in-feed cost" ("0.62x to 1.4x"
    without the `unit`, right after a cost that names it)."""
    lo, hi = as_number(low_uplift), as_number(high_uplift)
    if lo is None or hi is None:
        return ""
    cheap, dear = (math.exp(-max(-50.0, min(50.0, v))) for v in (max(lo, hi), min(lo, hi)))
    return f"{_times(cheap)} to {_times(dear)}" + (" your in-feed cost" if unit else "")


def ratio_phrase(ratio: Any) -> str:
    """A predicted uplift ratio (in-feed CPA / Spark CPA, the scores' `uplift_ratio`) in the one convention:
    1.8 reads "0.56x your in-feed cost"; "no estimate" when there is none."""
    r = as_number(ratio)
    return "no estimate" if r is None or r <= 0 or math.isinf(r) else cost_phrase(1 / r)


def ratio_range_phrase(low_ratio: Any, high_ratio: Any, unit: bool = True) -> str:
    """A band of uplift ratios as costs, cheapest first: "0.42x to 0.83x your in-feed cost"; "" without a band."""
    lo, hi = as_number(low_ratio), as_number(high_ratio)
    if lo is None or hi is None or lo <= 0 or hi <= 0:
        return ""
    return cost_range_phrase(math.log(lo), math.log(hi), unit)


def chance_phrase(p: float) -> str:
    """A probability in words that never claims certainty: "83%", "over 99%", "under 1%"."""
    return "over 99%" if p > 0.99 else "under 1%" if p < 0.01 else f"{p:.0%}"


def conversions_phrase(n: float) -> str:
    """"1 conversion", "3 conversions", "no conversion"."""
    k = round(float(n))
    return "no conversion" if k == 0 else f"{k} conversion{'' if k == 1 else 's'}"


def span_phrase(hours: float) -> str:
    """"72 h" as "3 days", "36 h" as "36 h"."""
    return f"{hours / 24:.0f} days" if hours >= 48 and hours % 24 == 0 else f"{hours:.0f} h"


def compact_count(value: Any) -> str:
    """12345 -> "12.3K"; for the table's organic numbers."""
    v = as_number(value)
    if v is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= size:
            return f"{v / size:.1f}{suffix}"
    return f"{v:.0f}"


def age_phrase(posted_at: pd.Timestamp | None, as_of: pd.Timestamp) -> str:
    if posted_at is None or pd.isna(posted_at):
        return ""
    hours = (as_of - posted_at).total_seconds() / 3600
    if hours < 0:
        return "after the as-of time"
    if hours < 48:
        return f"{hours:.0f} h ago"
    return f"{hours / 24:.0f} days ago"


def as_text(value: Any) -> str:
    """A cell as text: "" for a missing value (None, NA, NaN), else str(value)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)
