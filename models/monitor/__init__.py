"""Live boosts: the evidence about each one so far, and whether to keep, pause or add budget.

Pure: tables in, a table out; the time `as_of` (T) is always an argument and only hourly rows that ended
by T (`hour_start + 1 h <= T`) count, so a figure at T never uses a later hour.

The model, per live boost (all rates are conversions per dollar; "uplift" is log(in-feed CPA / Spark
CPA), the scores table's unit, so positive = cheaper than in-feed ads):

- Conversions reported by T are Poisson with mean `lambda * E(T)`: `lambda` is the boost's settled rate
  and `E(T) = sum_h spend_h * m(age_h) * F(T - h)` its effective exposure. `m` is the learning phase
  (conversions per dollar by hours since start, relative to settled delivery) and `F` the share of a
  spend hour's conversions reported by T (the reporting lag). Conversions are credited when they are
  reported, some hours after the spend that caused them; both `m` and the lag kernel are fitted by
  maximum likelihood on boosts finished by T (`fit_delivery_norms`). Conversions of an hour caused and
  reported independently form a Poisson process, so the counts reported in disjoint stretches of time
  are independent Poisson with means `lambda * dE`: the basis of the tests below.
- Prior on `u = log(lambda / lambda0)` (`lambda0` = 1 / in-feed CPA): the champion's prediction and band
  when there is one, otherwise the spread of the advertiser's past boosts (or all advertisers').
- Faster signals (thumb-stop, click-through, 6-second hold relative to the in-feed ads) predict `u` by a
  regression fitted on finished boosts. `p(u | signals) / p(u)` (the population's spread of `u` divided
  out) is the signals' likelihood term, used when the regression's residual spread is below the
  population's.
- The posterior on a grid of `u` gives `estimated_uplift` (median) and `low`/`high`.
- `pause` decides on money. Per dollar of the stake (the next `stake_hours` of spend at the last day's
  pace), keeping a dearer boost wastes 1 - exp(u) (what in-feed ads would have turned into the same
  conversions) and stopping a cheaper one forgoes exp(u) - 1; under the posterior their expectations are
  the expected costs of keeping and of stopping (`_money_terms`). It pauses when the log of their ratio
  exceeds a threshold calibrated by replaying the advertiser's own finished boosts as the monitor would
  have seen them, at the looks it makes (the hour ends its `cron` sees in a boost's first
  `money_watch_hours`, after which only "proven dearer" pauses; `_calibrate_pauses`,
  `schedule.looked_hours`): the smallest that would have paused at most
  `pause_rate` of the good ones (and stopped at most `pause_spend_rate` of their spend); all advertisers'
  boosts when it has too few, and no money pause at all when those are too few too. The reason says
  what pausing saves ("about $180 of the next $400") and, for a keep, what would pause it ("pause if the
  next $120 brings fewer than 2 conversions").
- "Proven dearer" is the stronger, anytime-valid statement, and also pauses: H0: lambda >= lambda0 tested
  with the mean of two e-processes: the mixture `int (lambda1 / lambda0)^C exp(-(lambda1 - lambda0) E)
  dpi(lambda1)` with `pi` the prior restricted to `lambda1 < lambda0`, and a predictable plug-in that,
  hour by hour, bets on the rate the posterior before that hour expects (fast signals included; see
  `_plug_in`). For any true rate `lambda >= lambda0` both are nonnegative supermartingales in T, so by
  Ville's inequality the chance their mean ever reaches 1 / alpha is at most alpha, however often it is
  checked. "Proven cheaper" is the mirror test against "the in-feed CPA is at most (1 + margin) x the
  boost's". Their validity rests on the norms (lag, learning) being right: they are learnt from other,
  finished boosts, never from the boost under test.
- `scale` (add budget) when the posterior is `scale_confidence` sure the boost is cheaper than in-feed,
  the learning phase is over and it has `scale_min_conversions`: `scale_step` more a day
  (`budget_step`, `proposed_daily_budget` in the table), at most once every `scale_every_hours`.

The package, one idea a module: `series` (hourly rows as series, live boosts), `norms` (what finished
boosts teach), `evidence` (posterior, money, e-processes), `calibration` (the pause threshold from replayed
boosts), `learn` (fitting both at T) and `decide` (the decision and its reason).
"""

from __future__ import annotations

from models.monitor.decide import DECISIONS, HINT_MAX_CONVERSIONS, OUTPUT_COLUMNS, assess_boosts, monitor_boosts
from models.monitor.evidence import U_COARSE, U_GRID
from models.monitor.learn import fit_delivery_norms
from models.monitor.norms import DeliveryNorms, FastSignalModel, PauseCalibration, UpliftPrior
from models.monitor.series import HOURLY_COUNTS, KEY, live_boosts
from sparkpick.clock import HOUR

__all__ = [
    "DECISIONS",
    "HINT_MAX_CONVERSIONS",
    "HOUR",
    "HOURLY_COUNTS",
    "KEY",
    "OUTPUT_COLUMNS",
    "U_COARSE",
    "U_GRID",
    "DeliveryNorms",
    "FastSignalModel",
    "PauseCalibration",
    "UpliftPrior",
    "assess_boosts",
    "fit_delivery_norms",
    "live_boosts",
    "monitor_boosts",
]
