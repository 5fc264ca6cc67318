"""The prior: a ranking that needs no Spark Ad results, for a brand's first nights.

A brand that never boosted has no labels to learn from, yet the brief already says what makes a post
worth boosting: proven organic engagement and watch-through (against the creator's own posts and the
brand's), a hook that stops the thumb, a native look (polish counts against), creator familiarity, and
settled numbers. `prior_model` turns the `prior.terms` of the config into a `ScoringModel` whose score
is the sum of its terms (see `models/sparkpick_ranker_pyfunc.py`), so it is registered, served,
explained and monitored exactly like a trained ranker. Its reasons come from its terms, in the same
words as the ranker's (`models/explain.py`).

It promises nothing about how much cheaper a conversion will come: its predicted uplift is 0 with a
wide band (`prior.band` either side), so the report and the monitor never read a made-up precision into it.
"""

from __future__ import annotations

from typing import Any

from models.ranker import ScoringModel
from models.uplift_calibration import ScoreCalibration
from sparkpick.config import PriorConfig, RankerConfig

KIND_TAG = "kind"
PRIOR_KIND = "prior"
RANKER_KIND = "ranker"


def prior_calibration(band: float) -> ScoreCalibration:
    """Every score maps to uplift 0 (no evidence either way) with the band `band` either side."""
    return ScoreCalibration(
        knots_x=(0.0, 1.0), knots_y=(0.0, 0.0), bin_edges=(0.0, 1.0), low=(-band,), high=(band,),
        coverage=float("nan"), reference=(),
    )


def prior_terms(config: PriorConfig) -> tuple[dict[str, Any], ...]:
    """The prior's terms in config order, as the model files carry them."""
    return tuple(
        {"feature": name, "weight": t.weight, "centre": t.centre, "scale": t.scale, "cap": t.cap}
        for name, t in config.terms.items()
    )


def starting_terms(ranker: RankerConfig, prior: PriorConfig) -> tuple[dict[str, Any], ...]:
    """What a trained ranker starts from: the prior's terms with `ranker.start_from_prior`, else none
    (a ranker from scratch). Terms of weight 0 add nothing and are left out."""
    if not ranker.start_from_prior:
        return ()
    return tuple(t for t in prior_terms(prior) if t["weight"] != 0)


def prior_model(config: PriorConfig, feature_version: str) -> ScoringModel:
    """The prior as a servable model: its terms in config order (a term of weight 0 stays, so its
    feature is shown and logged, but moves no score)."""
    names = tuple(config.terms)
    terms = prior_terms(config)
    return ScoringModel(
        boosters=(), feature_names=names, calibration=prior_calibration(config.band),
        feature_version=feature_version, metadata={KIND_TAG: PRIOR_KIND}, terms=terms,
    )
