"""How good is an ordering? Ranking metrics per decision group, and the time split that keeps them honest.

Every metric takes the same three aligned arrays: the realised outcome of each row (an uplift, or a
relevance grade), the score an ordering gave it, and the decision group it belongs to. Within a group, rows
are ordered by score, highest first; ties are broken by row order (stable), so a scorer that gives every
row the same score reads as "the order the rows came in", not as a lucky guess.

- NDCG@k: LightGBM's definition with gains 2^grade - 1; groups whose ideal DCG is 0 carry no information
  and are left out of the mean.
- precision@k of top-quartile uplift: the share of the k picks whose uplift lies in the top quarter of
  their own group (at or above the group's 75th percentile).
- uplift captured@k: how much of the achievable uplift the top k capture, normalised so that picking at
  random scores 0 and picking the k best rows scores 1. Summed over groups before dividing (a ratio of
  sums), so a group where every row has the same uplift adds nothing instead of dividing by zero.

Small groups: picking k of k rows (or fewer) is no choice at all, and real boost logs have weekly
groups of two or three boosts. Precision@k and captured@k therefore pick `pick_count(n, k)` =
min(k, max(1, n // 2)) rows in a group of n: the top k where a group has at least 2k rows, else the
better half. Decisions among many candidates (scoring, the benchmark) are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

TOP_QUARTILE = 0.75


def _groups(group: np.ndarray) -> Iterator[np.ndarray]:
    """Row indices of each group, in order of first appearance (rows need not be contiguous)."""
    codes, _ = pd.factorize(pd.Series(np.asarray(group)), sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    yield from np.split(order, bounds)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, highest first, ties kept in row order."""
    return np.argsort(-scores, kind="stable")[:k]


def pick_count(n: int, k: int) -> int:
    """How many of a group's n rows count as picked at k (see the module docstring)."""
    return min(k, max(1, n // 2))


def _check(*arrays: np.ndarray) -> None:
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"Metric inputs must have the same length, got lengths {sorted(lengths)}.")


def ndcg_at_k(grades: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int) -> float:
    """Mean NDCG@k over groups, with gains 2^grade - 1 (NaN when no group has any relevant row)."""
    grades, scores = np.asarray(grades, dtype=float), np.asarray(scores, dtype=float)
    _check(grades, scores, np.asarray(group))
    values: list[float] = []
    for idx in _groups(group):
        g, s = grades[idx], scores[idx]
        discounts = 1.0 / np.log2(np.arange(2, min(k, len(g)) + 2))
        ideal = float(((2.0 ** np.sort(g)[::-1][:k] - 1.0) * discounts).sum())
        if ideal <= 0:
            continue
        got = float(((2.0 ** g[_top(s, k)] - 1.0) * discounts).sum())
        values.append(got / ideal)
    return float(np.mean(values)) if values else float("nan")


def precision_at_k(uplift: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int) -> float:
    """Share of all top-k picks (over all groups) whose uplift is in the top quartile of their group."""
    uplift, scores = np.asarray(uplift, dtype=float), np.asarray(scores, dtype=float)
    _check(uplift, scores, np.asarray(group))
    hits = picks = 0
    for idx in _groups(group):
        u, s = uplift[idx], scores[idx]
        threshold = np.quantile(u, TOP_QUARTILE)
        top = _top(s, pick_count(len(u), k))
        hits += int((u[top] >= threshold).sum())
        picks += len(top)
    return hits / picks if picks else float("nan")


def captured_sums(uplift: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int) -> tuple[float, float]:
    """(uplift gained over chance by the top k, the most that could be gained), summed over groups."""
    uplift, scores = np.asarray(uplift, dtype=float), np.asarray(scores, dtype=float)
    _check(uplift, scores, np.asarray(group))
    gained = possible = 0.0
    for idx in _groups(group):
        u, s = uplift[idx], scores[idx]
        n = pick_count(len(u), k)
        chance = float(u.mean())
        gained += float(u[_top(s, n)].mean()) - chance
        possible += float(np.sort(u)[::-1][:n].mean()) - chance
    return gained, possible


def captured_at_k(uplift: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int) -> float:
    """Normalised uplift captured by the top k of each group: random = 0, best possible = 1."""
    gained, possible = captured_sums(uplift, scores, group, k)
    return gained / possible if possible > 0 else float("nan")


def gain_curve(
    uplift: np.ndarray, scores: np.ndarray, group: np.ndarray, max_k: int
) -> pd.Series:
    """Captured uplift at k = 1..max_k (the curve plotted for the model and each baseline)."""
    return pd.Series(
        [captured_at_k(uplift, scores, group, k) for k in range(1, max_k + 1)],
        index=pd.RangeIndex(1, max_k + 1, name="k"),
        name="captured",
    )


def ranking_metrics(
    uplift: np.ndarray, grades: np.ndarray, scores: np.ndarray, group: np.ndarray, k: int
) -> dict[str, float]:
    """The three headline metrics of one ordering, keyed `ndcg_at_k`, `precision_at_k`, `captured_at_k`."""
    return {
        "ndcg_at_k": ndcg_at_k(grades, scores, group, k),
        "precision_at_k": precision_at_k(uplift, scores, group, k),
        "captured_at_k": captured_at_k(uplift, scores, group, k),
    }


@dataclass(frozen=True)
class TimeSplit:
    """Boolean row masks of a time split, and the first validation decision time (the cut)."""

    train: np.ndarray
    valid: np.ndarray
    cutoff: pd.Timestamp
    purged: int

    def describe(self) -> str:
        return (
            f"train {int(self.train.sum())} rows before {self.cutoff}, validate {int(self.valid.sum())} rows"
            f" from it on ({self.purged} training rows purged: their result was still running at the cut)"
        )


def time_split(
    frame: pd.DataFrame,
    validation_fraction: float,
    time_col: str = "decision_time",
    ended_col: str | None = "ended_at",
) -> TimeSplit:
    """Train on the earlier decisions, validate on the later ones: never at random.

    The latest `validation_fraction` of distinct decision times (at least one) form the validation set.
    Training keeps only decisions strictly before the first validation decision and, when `ended_col` is
    given, only boosts whose result had ended by then: a result still running at the cut was not yet
    knowable, so training on it would leak the validation period into the model (a purge).
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}.")
    times = pd.to_datetime(frame[time_col])
    distinct = np.sort(times.unique())
    if len(distinct) < 2:
        raise ValueError(
            f"A time split needs at least two distinct decision times, got {len(distinct)}: "
            "more history is needed to train and validate."
        )
    n_valid = min(len(distinct) - 1, max(1, round(len(distinct) * validation_fraction)))
    cutoff = pd.Timestamp(distinct[len(distinct) - n_valid])
    valid = (times >= cutoff).to_numpy()
    before = (times < cutoff).to_numpy()
    train = before.copy()
    if ended_col is not None and ended_col in frame:
        train &= (pd.to_datetime(frame[ended_col]) <= cutoff).to_numpy()
    return TimeSplit(train=train, valid=valid, cutoff=cutoff, purged=int(before.sum() - train.sum()))
