"""Data-quality rules for metric snapshots, applied before any feature is computed, and their tally.

The rules, in order (each is point-in-time safe: it never uses a snapshot observed later to change an
earlier one):

1. Orphans: a snapshot whose `post_id` is not in `posts` is dropped (counted `orphan_snapshots`).
2. Before posting: a snapshot observed before its post's `posted_at` is impossible (clock or id mix-up)
   and is dropped (counted `snapshots_before_posting`).
3. Duplicates: several snapshots of one post at the same `observed_at` are reduced to one, the one with
   the highest counts (views, then likes, comments, shares), so the choice does not depend on row order
   (counted `duplicate_snapshots`, the rows dropped).
4. Counts going backwards: views, likes, comments, shares and reach are cumulative, so a value below an
   earlier snapshot's (deleted comments, API recounts) is raised to the running maximum of the earlier
   ones (counted per column in `backwards_counts`). Watch time and completion rate are averages that may
   legitimately fall and are left alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

CUMULATIVE_COUNTS: tuple[str, ...] = ("views", "likes", "comments", "shares", "reach")


@dataclass(frozen=True)
class DataQualityReport:
    """How many snapshots each rule touched (see the module docstring), and labels that could not be made."""

    snapshots_in: int = 0
    snapshots_kept: int = 0
    orphan_snapshots: int = 0
    snapshots_before_posting: int = 0
    duplicate_snapshots: int = 0
    backwards_counts: dict[str, int] = field(default_factory=dict)
    posts_without_snapshots: int = 0
    labels_without_baseline: int = 0

    @property
    def backwards_total(self) -> int:
        return sum(self.backwards_counts.values())

    def as_dict(self) -> dict[str, int]:
        """Flat counts, e.g. for logging or MLflow metrics."""
        flat = {k: v for k, v in asdict(self).items() if k != "backwards_counts"}
        flat.update({f"backwards_{k}": v for k, v in self.backwards_counts.items()})
        return flat

    @classmethod
    def from_dict(cls, flat: dict[str, int]) -> DataQualityReport:
        """The report back from `as_dict` (e.g. from a matrix's `attrs["data_quality"]`)."""
        prefix = "backwards_"
        return cls(
            **{k: int(v) for k, v in flat.items() if not k.startswith(prefix)},
            backwards_counts={k[len(prefix):]: int(v) for k, v in flat.items() if k.startswith(prefix)},
        )

    def lines(self) -> list[str]:
        """Plain-English summary lines for the CLI."""
        backwards = ", ".join(f"{k} {v}" for k, v in self.backwards_counts.items() if v) or "none"
        out = [
            f"{self.snapshots_in} metric snapshots in, {self.snapshots_kept} kept",
            f"dropped: {self.orphan_snapshots} for unknown posts, {self.snapshots_before_posting} observed "
            f"before posting, {self.duplicate_snapshots} duplicates",
            f"counts going backwards raised to the earlier maximum: {backwards}",
            f"{self.posts_without_snapshots} posts have no metric snapshot",
        ]
        if self.labels_without_baseline:
            out.append(f"{self.labels_without_baseline} past boosts have no usable baseline (no label)")
        return out

    def with_labels_missing(self, n: int) -> DataQualityReport:
        return DataQualityReport(**{**asdict(self), "labels_without_baseline": n})


def clean_metrics(metrics: pd.DataFrame, posts: pd.DataFrame) -> tuple[pd.DataFrame, DataQualityReport]:
    """Metric snapshots after the module's rules, sorted by post and time, with the report of what changed.

    The result keeps the contract columns and adds `posted_at`; counts are float64 (NaN for missing).
    """
    n_in = len(metrics)
    m = metrics.copy()
    for col in ("views", "likes", "comments", "shares", "reach", "avg_watch_s", "full_watch_rate"):
        if col in m.columns:
            m[col] = pd.to_numeric(m[col], errors="coerce").astype("float64")
        else:
            m[col] = float("nan")
    m = m.merge(posts[["post_id", "posted_at"]], on="post_id", how="left")
    orphan = m["posted_at"].isna()
    m = m[~orphan]
    early = m["observed_at"] < m["posted_at"]
    m = m[~early]
    m = m.sort_values(
        ["post_id", "observed_at", "views", "likes", "comments", "shares"], na_position="first", kind="stable"
    )
    dup = m.duplicated(["post_id", "observed_at"], keep="last")
    m = m[~dup].reset_index(drop=True)
    backwards: dict[str, int] = {}
    for col in CUMULATIVE_COUNTS:
        running = m.groupby("post_id", sort=False)[col].cummax()
        # cummax skips NaN; a missing value stays missing rather than inheriting the maximum.
        raised = running.where(m[col].notna())
        backwards[col] = int((raised > m[col]).sum())
        m[col] = raised
    report = DataQualityReport(
        snapshots_in=n_in,
        snapshots_kept=len(m),
        orphan_snapshots=int(orphan.sum()),
        snapshots_before_posting=int(early.sum()),
        duplicate_snapshots=int(dup.sum()),
        backwards_counts=backwards,
        posts_without_snapshots=len(set(posts["post_id"]) - set(m["post_id"])),
    )
    return m, report
