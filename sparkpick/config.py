"""Typed, frozen settings loaded once from `configs/default.yaml` (plus an optional overlay file).

Each setting is explained once, beside its value in `configs/default.yaml`; the classes here give only its
type and allowed range, so a bad value fails naming the setting.

Deep code takes a `Settings` (or one of its sections) as an argument; nothing below the CLI reads the
environment.
"""

from __future__ import annotations

from datetime import datetime
from difflib import get_close_matches
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparkpick.errors import InputError

# The defaults ship inside the package (an installed sparkpick has no checkout beside it): in a checkout
# `sparkpick/default.yaml` is a link to `configs/default.yaml`, resolved here so errors name that file.
DEFAULT_CONFIG = (Path(__file__).parent / "default.yaml").resolve()


def _cron(value: str) -> str:
    """A five-field cron expression (minute hour day month weekday), as Prefect schedules take it."""
    from cronsim import CronSim, CronSimError

    try:
        CronSim(value, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"{value!r} is not a cron expression such as \"0 2 * * *\" ({exc})") from exc
    return value


def _optional_cron(value: str) -> str:
    return _cron(value) if value else value


def _iso_time(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a time such as 2026-11-01T00:00:00") from exc
    return value


def _web_address(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} is not an http(s):// address")
    return value


Cron = Annotated[str, AfterValidator(_cron)]
OptionalCron = Annotated[str, AfterValidator(_optional_cron)]  # "" = no schedule
def _period(value: str) -> str:
    """A pandas offset alias (`W`, `MS`, `2W`), as pandas reads it (the sources' registry loads pandas anyway)."""
    from pandas.tseries.frequencies import to_offset

    try:
        to_offset(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a pandas period alias such as W (weeks) or MS (months)") from exc
    return value


IsoTime = Annotated[str, AfterValidator(_iso_time)]
Period = Annotated[str, AfterValidator(_period)]
WebAddress = Annotated[str, AfterValidator(_web_address)]


class _Section(BaseModel):
    """A config section. No Python defaults: `configs/default.yaml` is the one source of every value, so a
    key missing from it (or unknown to these classes) is an error that names the setting."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class IngestConfig(_Section):
    source: str
    rejected_dir: str

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        from sparkpick.sources.registry import find_source, known_sources  # the sources' one list

        if find_source(value) is None:
            raise ValueError(f"{value!r} is not a source: use one of {', '.join(known_sources())}")
        return value


class ContractConfig(_Section):
    max_boost_hours: float = Field(gt=0)


class WorldSize(_Section):
    advertisers: int = Field(gt=0)
    creators_per_advertiser: int = Field(gt=1)
    posts: int = Field(gt=0)
    days: int = Field(gt=0)
    max_duration_s: float | None = Field(gt=0)


class WorldVideoConfig(_Section):
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    fps: int = Field(gt=0)
    min_duration_s: float = Field(gt=0)
    max_duration_s: float = Field(gt=0)
    mean_extra_duration_s: float = Field(ge=0)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                    "veryslow"]
    crf: int = Field(ge=0, le=51)
    keyframe_interval_s: float = Field(gt=0)
    missing_rate: float = Field(ge=0, lt=1)


class WorldOrganicConfig(_Section):
    snapshot_hours: list[float]
    snapshot_missing_rate: float = Field(ge=0, lt=1)
    max_report_lag_hours: float = Field(ge=0)
    reach_missing_rate: float = Field(ge=0, le=1)
    reach_missing_after_7d_rate: float = Field(ge=0, le=1)


class WorldAuthConfig(_Section):
    lifetimes_days: list[int]
    lifetime_weights: list[float]
    issued_own: float = Field(ge=0, le=1)
    issued_with_rights: float = Field(ge=0, le=1)
    requested_with_rights: float = Field(ge=0, le=1)
    requested_without_rights: float = Field(ge=0, le=1)
    issued_without_rights: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _one_weight_per_lifetime(self) -> WorldAuthConfig:
        if len(self.lifetimes_days) != len(self.lifetime_weights) or not self.lifetimes_days:
            raise ValueError("lifetimes_days and lifetime_weights must be lists of the same length")
        if any(w < 0 for w in self.lifetime_weights) or sum(self.lifetime_weights) <= 0:
            raise ValueError("lifetime_weights must be at least 0 and not all 0")
        return self


class WorldPolicyConfig(_Section):
    intercept: float
    engagement_weight: float
    views_weight: float
    own_account_bonus: float
    min_propensity: float = Field(gt=0, lt=1)
    max_propensity: float = Field(gt=0, lt=1)
    decision_delay_days: tuple[float, float]
    flight_days: tuple[int, int]
    reboost_rate: float = Field(ge=0, le=1)


class WorldEffectsConfig(_Section):
    polish_paid_penalty: float
    polish_organic_gain: float
    hook_thumbstop: float
    authenticity_paid: float
    topic_fit_conversion: float
    familiarity_gain: float
    spark_advantage: float
    effect_spread: float = Field(ge=0, lt=1)
    paid_noise: float = Field(ge=0)
    virality_noise: float = Field(ge=0)


class WorldConfig(_Section):
    sizes: dict[str, WorldSize]
    video: WorldVideoConfig
    organic: WorldOrganicConfig
    auth: WorldAuthConfig
    policy: WorldPolicyConfig
    effects: WorldEffectsConfig
    seed: int
    end: IsoTime


class PolishCue(_Section):
    """One row of `video.polish`."""

    native: float
    produced: float
    weight: float = Field(ge=0)


class VideoConfig(_Section):
    """Video cue extraction (features/video/)."""

    feature_version: str
    sample_fps: float = Field(gt=0)
    hook_sample_fps: float = Field(gt=0)
    hook_window_s: float = Field(gt=0)
    analysis_long_side: int = Field(gt=16)
    workers: int = Field(ge=1)
    timeout_s: float = Field(gt=0)
    thumbnail_long_side: int = Field(gt=16)
    thumbnail_quality: int = Field(ge=10, le=100)
    motion_fps: float = Field(gt=0)
    motion_long_side: int = Field(ge=32)
    max_body_samples: int = Field(ge=1)
    max_frame_pixels: int = Field(gt=0)
    skip_loop_filter: bool
    skip_nonref_frames: bool
    decode_threads_min_pixels: int = Field(ge=0)
    partial_tolerance_s: float = Field(ge=0)
    start_method: Literal["forkserver", "spawn", "fork"]
    dask_address: str | None
    dask_workers: int | None = Field(ge=1)
    dask_connect_timeout_s: float = Field(gt=0)
    kill_grace_s: float = Field(ge=0)

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme, sep, rest = value.strip().partition("://")
        host, colon, port = rest.rpartition(":")
        if not sep or scheme not in ("tcp", "tls", "ws", "wss", "ucx") or not colon or not host or not port.isdigit():
            raise ValueError(f"{value!r} is not a Dask scheduler address such as tcp://HOST:PORT")
        return value.strip()
    # picture
    noise_flat_quantile: float = Field(gt=0, le=1)
    sharpness_noise_k: float = Field(ge=0)
    canny_low: int = Field(ge=0)
    canny_high: int = Field(ge=0)
    clip_high: int = Field(ge=0, le=255)
    clip_low: int = Field(ge=0, le=255)
    # composition
    bar_max_luma: float = Field(ge=0)
    bar_max_std: float = Field(ge=0)
    bar_min_fraction: float = Field(ge=0, lt=0.5)
    bar_max_total: float = Field(gt=0, le=1)
    letterbox_min_share: float = Field(ge=0, le=1)
    blurfill_context_rows: int = Field(ge=1)
    blurfill_edge_ratio: float = Field(gt=1)
    blurfill_min_step: float = Field(gt=0)
    blurfill_max_band: float = Field(gt=0, lt=0.5)
    blurfill_symmetry: float = Field(ge=0)
    blurfill_detail_ratio: float = Field(gt=0, lt=1)
    text_min_gradient: int = Field(ge=1, le=255)
    text_close_fraction: float = Field(gt=0)
    text_min_height: float = Field(gt=0)
    text_max_height: float = Field(gt=0)
    text_min_aspect: float = Field(gt=0)
    text_min_density: float = Field(ge=0, le=1)
    text_max_density: float = Field(ge=0, le=1)
    text_min_crossings: float = Field(ge=0)
    text_frame_min_coverage: float = Field(ge=0, le=1)
    face_hook_samples: int = Field(ge=0)
    face_body_samples: int = Field(ge=0)
    face_long_side: int = Field(ge=24)
    face_min_px: int = Field(ge=8)
    face_min_fraction: float = Field(ge=0, le=1)
    face_scale_factor: float = Field(gt=1)
    face_min_neighbors: int = Field(ge=1)
    # time
    cut_window: int = Field(ge=1)
    cut_ratio: float = Field(gt=1)
    cut_min_score: float = Field(ge=0)
    cut_base_floor: float = Field(gt=0)
    cut_min_shot_s: float = Field(ge=0)
    shake_smooth_s: float = Field(gt=0)
    phase_taper: float = Field(ge=0, le=0.5)
    static_max_diff: float = Field(gt=0)
    polish: dict[str, PolishCue]


class CaptionConfig(_Section):
    disclosure_tags: list[str]
    cta_phrases: list[str]
    brand_terms: dict[str, list[str]]


class FeaturesConfig(_Section):
    feature_version: str
    candidate_window_days: int = Field(gt=0)
    calibration_hours: float = Field(ge=0)
    auth_expiry_warning_days: int = Field(ge=0)
    decision_period: Period
    peer_window_days: int = Field(gt=0)
    min_peers: int = Field(ge=1)
    peer_z_clip: float = Field(gt=0)
    growth_hours: list[float]
    growth_max_gap_hours: float = Field(gt=0)
    caption: CaptionConfig


class LabelConfig(_Section):
    kind: Literal["cpa_ratio", "engagement_ratio", "thumbstop_ratio"]
    prior_strength_conversions: float = Field(ge=0)
    prior_strength_impressions: float = Field(ge=0)
    relevance_levels: int = Field(ge=2, le=31)
    relevance_scope: Literal["global", "group"]


# The LightGBM parameters `ranker.params` may set: LGBMRanker's keyword arguments and the core training
# parameters (with their usual aliases) that shape a small lambdarank ranker. tests/sparkpick/test_config.py
# checks each name against LightGBM's own list; a typo is refused, never silently ignored by LightGBM.
LIGHTGBM_PARAMS = frozenset({
    "boosting_type", "num_leaves", "max_depth", "learning_rate", "n_estimators", "subsample_for_bin",
    "min_split_gain", "min_child_weight", "min_child_samples", "subsample", "subsample_freq", "colsample_bytree",
    "reg_alpha", "reg_lambda", "n_jobs", "importance_type",
    "num_iterations", "num_threads", "min_data_in_leaf", "min_sum_hessian_in_leaf", "min_gain_to_split",
    "bagging_fraction", "bagging_freq", "bagging_seed", "feature_fraction", "feature_fraction_bynode",
    "feature_fraction_seed", "lambda_l1", "lambda_l2", "max_bin", "min_data_in_bin", "max_delta_step",
    "extra_trees", "extra_seed", "path_smooth", "linear_tree", "linear_lambda", "cat_smooth", "cat_l2",
    "max_cat_threshold", "max_cat_to_onehot", "min_data_per_group", "use_missing", "zero_as_missing",
    "lambdarank_truncation_level", "lambdarank_norm", "eval_at", "first_metric_only", "metric",
    "force_row_wise", "bagging_by_query", "data_sample_strategy", "top_rate", "other_rate",
})
# Parameters sparkpick sets itself, and where; a `ranker.params` entry for one of them is refused.
LIGHTGBM_SET_ELSEWHERE = {
    "objective": "models/ranker.py (lambdarank)", "random_state": "ranker.seed", "seed": "ranker.seed",
    "label_gain": "ranker.label_gain", "monotone_constraints": "ranker.monotone",
    "deterministic": "models/ranker.py (repeatable fits)", "force_col_wise": "models/ranker.py (repeatable fits)",
    "verbose": "models/ranker.py (quiet)", "verbosity": "models/ranker.py (quiet)",
}


def _lightgbm_params(value: dict[str, Any]) -> dict[str, Any]:
    problems = []
    for key in value:
        if key in LIGHTGBM_SET_ELSEWHERE:
            problems.append(f"{key!r} is set by {LIGHTGBM_SET_ELSEWHERE[key]}, not here")
        elif key not in LIGHTGBM_PARAMS:
            close = get_close_matches(str(key), sorted(LIGHTGBM_PARAMS), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            problems.append(f"{key!r} is not a LightGBM parameter sparkpick knows{hint}")
    if problems:
        raise ValueError("; ".join(problems) + ". The known ones are listed in sparkpick/config.py, LIGHTGBM_PARAMS")
    return value


class RankerConfig(_Section):
    shortlist_k: int = Field(gt=0)
    validation_fraction: float = Field(gt=0, lt=1)
    seed: int
    propensity_weighting: bool
    propensity_clip: float = Field(gt=1)
    params: Annotated[dict[str, Any], AfterValidator(_lightgbm_params)]
    early_stopping_rounds: int = Field(gt=0)
    label_gain: Literal["linear", "exponential"]
    bags: int = Field(ge=1)
    refit_on_all_rows: bool
    start_from_prior: bool
    monotone: dict[str, Literal[-1, 1]]
    calibration_bins: int = Field(ge=1)
    band_coverage: float = Field(gt=0, lt=1)


class PriorTerm(_Section):
    """One term of `prior.terms`."""

    weight: float
    centre: float
    scale: float = Field(gt=0)
    cap: float = Field(gt=0)


class PriorConfig(_Section):
    """The prior ranking (models/prior.py)."""

    terms: dict[str, PriorTerm]
    band: float = Field(gt=0)


class PolicyConfig(_Section):
    """The shortlist policy (models/policy.py)."""

    test_share: float = Field(ge=0, le=1)
    test_min_pool: float = Field(ge=1)
    temperature: float = Field(gt=0)
    propensity_draws: int = Field(ge=100)
    boost_again_min_uplift: float
    handover_min_logged: int = Field(ge=1)


# The validation metrics the promotion gate may compare a new model and the champion on (models/).
PromotionMetric = Literal["ndcg_at_k", "precision_at_k", "captured_at_k"]


class MlflowConfig(_Section):
    tracking_uri: str
    experiment: str
    model_name: str
    promotion_metric: PromotionMetric
    ui_host: str
    ui_port: int = Field(gt=0, le=65535)


class ReportConfig(_Section):
    top_k: int = Field(gt=0)
    polish_ad_threshold: float = Field(ge=0, le=100)


class NightlyConfig(_Section):
    cron: Cron
    timezone: str
    train_cron: Cron
    retries: int = Field(ge=0)
    retry_delay_s: float = Field(ge=0)
    lock_timeout_s: float = Field(ge=0)
    train_if_no_champion: bool
    server_port: int = Field(ge=0, le=65535)
    server_start_timeout_s: float = Field(gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Amsterdam)") from exc
        return value


class TiktokConfig(_Section):
    """The TikTok API for Business source (`sparkpick/sources/tiktok/`); the token itself never lives here."""

    base_url: WebAddress
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]  # an environment variable's name
    business_ids: list[str]
    advertiser_ids: list[str]
    account_advertisers: dict[str, str]
    brand_business_ids: list[str]
    default_partnership_kind: Literal["own", "ongoing", "one_off"]
    partnerships_file: str
    page_size: int = Field(gt=0, le=1000)
    max_count: int = Field(gt=0, le=20)
    report_page_size: int = Field(gt=0, le=1000)
    max_pages: int = Field(gt=0)
    report_lookback_days: int = Field(gt=0)
    report_window_days: int = Field(gt=0, le=30)
    hourly_lookback_days: int = Field(ge=0, le=30)
    baseline_period: Period
    max_retries: int = Field(ge=0)
    backoff_s: float = Field(ge=0)
    max_backoff_s: float = Field(ge=0)
    timeout_s: float = Field(gt=0)


class MonitorSettings(_Section):
    """Watching live boosts (models/monitor/) and the model's track record (models/track_record.py)."""

    ended_after_idle_hours: float = Field(gt=0)
    min_hours: float = Field(ge=0)
    min_spend_cpas: float = Field(ge=0)
    pause_confidence: float = Field(gt=0, lt=1)
    pause_bet_dearer: float = Field(ge=0)
    scale_confidence: float = Field(gt=0, lt=1)
    scale_margin: float = Field(ge=0)
    scale_min_conversions: int = Field(ge=0)
    pause_rate: float = Field(gt=0, lt=1)
    pause_spend_rate: float = Field(gt=0, lt=1)
    money_watch_hours: float = Field(gt=0)
    calibration_min_boosts: int = Field(ge=1)
    calibration_recent_boosts: int = Field(ge=1)
    stake_hours: float = Field(gt=0)
    scale_step: float = Field(gt=0, le=1)
    scale_every_hours: float = Field(gt=0)
    interval: float = Field(gt=0, lt=1)
    prior_min_sd: float = Field(gt=0)
    prior_default_sd: float = Field(gt=0)
    prior_min_past_boosts: int = Field(ge=1)
    lag_bin_edges_hours: list[int]
    learning_bin_edges_hours: list[int]
    norms_min_boosts: int = Field(ge=1)
    default_lag_shares: list[float] | None
    default_learning: list[float] | None
    simulated_boosts: int = Field(ge=20)
    simulated_dispersion: float = Field(ge=1)
    calibration_confidence: float = Field(ge=0.5, lt=1)
    fast_signals: bool
    fast_min_boosts: int = Field(ge=3)
    cron: OptionalCron
    track_record_days: float = Field(gt=0)
    retrain_alpha: float = Field(gt=0, lt=0.5)
    track_record_min_boosts: int = Field(ge=4)

    @field_validator("lag_bin_edges_hours", "learning_bin_edges_hours")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if len(value) < 2 or value[0] != 0 or any(b <= a for a, b in pairwise(value)):
            raise ValueError("bin edges must start at 0 and strictly increase (at least two edges)")
        return value

    @model_validator(mode="after")
    def _defaults_fit_the_bins(self) -> MonitorSettings:
        lag, learning = self.default_lag_shares, self.default_learning
        if lag is not None and (len(lag) != len(self.lag_bin_edges_hours) - 1 or min(lag) < 0
                                or abs(sum(lag) - 1) > 1e-6):
            raise ValueError("monitor.default_lag_shares needs one share per lag bin (lag_bin_edges_hours), "
                             "each at least 0, summing to 1")
        if learning is not None and (len(learning) != len(self.learning_bin_edges_hours) - 1
                                     or min(learning) <= 0):
            raise ValueError("monitor.default_learning needs one multiplier above 0 per learning bin "
                             "(learning_bin_edges_hours, the last edge settled)")
        if (lag is None) != (learning is None):
            raise ValueError("monitor.default_lag_shares and monitor.default_learning are set together or both null")
        return self


ActionMode = Literal["recommend", "shadow", "auto"]


class ActionModes(_Section):
    """What sparkpick does with the monitor's `pause` and `scale` decisions."""

    pause: ActionMode
    scale: ActionMode


class AdvertiserActions(_Section):
    """One advertiser's account settings for acting on it (`actions.advertisers`)."""

    campaign_id: str
    adgroup_id: str
    daily_budget_cap: float = Field(ge=0)
    modes: ActionModes | None
    identity_authorized_bc_id: str


# A TikTok enum value as the API spells it ("SHOPPING", "CONVERT").
ApiName = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
# A TikTok id: digits only ("6252001").
ApiId = Annotated[str, Field(pattern=r"^[0-9]+$")]


class NewAdgroupConfig(_Section):
    """A new ad group for a pick (`actions.new_adgroup`), in the values the TikTok API accepts."""

    billing_event: Literal["CPC", "CPM", "CPV", "OCPM"]
    optimization_goal: ApiName
    optimization_event: ApiName
    pixel_id: Annotated[str, Field(pattern=r"^[0-9]*$")]  # "" = no pixel
    pacing: Literal["PACING_MODE_SMOOTH", "PACING_MODE_FAST"]
    placement_type: Literal["PLACEMENT_TYPE_AUTOMATIC", "PLACEMENT_TYPE_NORMAL"]
    location_ids: list[ApiId] = Field(min_length=1)


class ActionsConfig(_Section):
    """Acting on the ad account (sparkpick/sources/tiktok/actions/; guardrails in sparkpick/guardrails.py)."""

    enabled: bool
    kill_file: str
    modes: ActionModes
    advertisers: dict[str, AdvertiserActions]
    budget_step_max_share: float = Field(gt=0, le=1)
    budget_step_min_hours: float = Field(ge=0)
    min_spend_before_pause: float = Field(ge=0)
    circuit_breaker_failures: int = Field(ge=1)
    circuit_breaker_hours: float = Field(gt=0)
    max_attempts: int = Field(ge=1)
    read_back_tries: int = Field(ge=1)
    new_adgroup: NewAdgroupConfig
    approval_timeout_hours: float = Field(gt=0)
    proposed_daily_budget: float = Field(gt=0)

    def modes_for(self, advertiser_id: str) -> ActionModes:
        own = self.advertisers.get(advertiser_id)
        return own.modes if own is not None and own.modes is not None else self.modes


class Settings(_Section):
    ingest: IngestConfig
    contract: ContractConfig
    world: WorldConfig
    video: VideoConfig
    features: FeaturesConfig
    label: LabelConfig
    ranker: RankerConfig
    prior: PriorConfig
    policy: PolicyConfig
    mlflow: MlflowConfig
    report: ReportConfig
    nightly: NightlyConfig
    tiktok: TiktokConfig
    monitor: MonitorSettings
    actions: ActionsConfig


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# A config file is a few dozen settings a few levels deep: deeper nesting is a mistake or an attack.
_MAX_YAML_DEPTH = 20


class _StrictLoader(yaml.SafeLoader):
    """YAML as a settings file should be: a key given twice is an error (naming the key and its line), not
    the last value silently winning; anchors and aliases are refused, so a small file cannot expand into
    an exponentially large one ("billion laughs"); nesting deeper than `_MAX_YAML_DEPTH` is refused."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _ConfigRefused(f"line {event.start_mark.line + 1}: anchors and aliases (& and *) are not "
                                 "allowed in a config file; write each value out")
        depth = getattr(self, "_depth", 0) + 1
        if depth > _MAX_YAML_DEPTH:
            raise _ConfigRefused(f"line {event.start_mark.line + 1}: nested deeper than {_MAX_YAML_DEPTH} levels")
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                break
            if first is not None:
                raise _ConfigRefused(f"line {line}: the key {key!r} is given twice (first on line {first})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _ConfigRefused(Exception):
    """A config file's content that `_StrictLoader` refuses (the message names the line)."""


def _read_yaml(path: Path) -> dict[str, Any]:
    """A config file's mapping, or an `InputError` naming the file and what is wrong with it."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"Config file {path} does not exist.") from exc
    except IsADirectoryError as exc:
        raise InputError(f"Config file {path} is a folder, not a YAML file.") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"Config file {path} is not UTF-8 text (byte {exc.start} cannot be read).") from exc
    except OSError as exc:
        raise InputError(f"Config file {path} cannot be read: {exc.strerror or exc}.") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader, stricter
    except _ConfigRefused as exc:
        raise InputError(f"Config file {path}: {exc}.") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"Config file {path} is not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise InputError(f"Config file {path}: nested too deeply to be a config file.") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"Config file {path} must hold a mapping of sections, not {type(data).__name__}.")
    return data


_MESSAGES = {
    "missing": "missing (every setting must be given in configs/default.yaml)",
    "extra_forbidden": "unknown setting (check its spelling and section)",
    "model_type": "must be a section (a mapping of settings), not a single value",
    "dict_type": "must be a mapping",
}


def _validated(data: dict[str, Any], where: str) -> Settings:
    """`data` as `Settings`, or an `InputError` that names, for each bad setting, its path (`video.dask_workers`)
    and what is wrong with it, and says `where` the values came from. pydantic's copy of the input is not
    quoted: a secret put in the wrong place must not reach an error."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: "
            f"{_MESSAGES.get(err['type'], str(err['msg']).removeprefix('Value error, '))}"
            for err in exc.errors()
        )
        raise InputError(f"Invalid configuration ({where}): {problems}") from exc


def load_settings(overlay: Path | None = None, base: Path = DEFAULT_CONFIG) -> Settings:
    """Load the defaults, merge the overlay file on top and validate the result into `Settings`."""
    data = _read_yaml(base)
    if overlay is not None:
        data = _merge(data, _read_yaml(Path(overlay)))
    return _validated(data, f"{base}" + (f" overlaid with {overlay}" if overlay else ""))


def overlay_value(overlay: Path | None, *keys: str) -> Any:
    """The value the overlay file itself sets at `keys` (e.g. "ingest", "source"), or None when it sets
    none: what the user asked for explicitly, as opposed to a default."""
    node: Any = _read_yaml(Path(overlay)) if overlay is not None else None
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def with_overrides(settings: Settings, overrides: dict[str, Any], where: str = "overridden settings") -> Settings:
    """A copy of `settings` with nested overrides applied and validated (for CLI flags and tests). A bad one
    (an unknown key, a wrong type or value) is an `InputError` naming the setting, as in a config file;
    `where` says where the values came from (e.g. the flags)."""
    return _validated(_merge(settings.model_dump(), overrides), where)


def with_dask(settings: Settings, address: str | None, workers: int | None) -> Settings:
    """`settings` with the video work sent to a Dask cluster (`--dask-address` / `--dask-workers`).

    Either flag replaces both configured values (a flag for a local cluster wins over a configured
    address); neither leaves the settings as they are.
    """
    if not address and not workers:
        return settings
    if address and workers:
        raise InputError("--dask-address and --dask-workers exclude each other: connect to a cluster, or start one")
    return with_overrides(settings, {"video": {"dask_address": address or None, "dask_workers": workers or None}},
                          where="--dask-address/--dask-workers")
