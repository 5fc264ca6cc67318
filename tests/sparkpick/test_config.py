"""Settings: configs/default.yaml is the one source; overlays merge; every error names the setting."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkpick.config import DEFAULT_CONFIG, load_settings, with_dask, with_overrides
from sparkpick.errors import InputError
from tests.entry_point import SPARKPICK

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _default() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))


def test_defaults_load_and_are_the_yaml_values():
    settings = load_settings()
    raw = _default()
    # The six settings whose Python defaults once disagreed with the YAML: the YAML is what runs.
    assert settings.world.video.mean_extra_duration_s == raw["world"]["video"]["mean_extra_duration_s"]
    for key in ("motion_long_side", "max_body_samples", "face_body_samples", "face_long_side", "face_scale_factor"):
        assert getattr(settings.video, key) == raw["video"][key], key


def test_an_unknown_key_is_an_error_naming_it(tmp_path):
    overlay = _write(tmp_path / "mine.yaml", {"video": {"workers": 2, "wrkers": 3}})
    with pytest.raises(InputError, match=r"video\.wrkers: unknown setting") as caught:
        load_settings(overlay)
    assert "mine.yaml" in str(caught.value) and "video.workers" not in str(caught.value)
    with pytest.raises(InputError, match=r"colour: unknown setting"):
        load_settings(_write(tmp_path / "top.yaml", {"colour": "blue"}))


def test_a_wrong_type_is_an_error_naming_the_setting(tmp_path):
    with pytest.raises(InputError, match=r"report\.top_k: .*integer"):
        load_settings(_write(tmp_path / "bad.yaml", {"report": {"top_k": "ten"}}))
    with pytest.raises(InputError, match=r"nightly\.timezone: .*unknown timezone 'Mars/Olympus'"):
        load_settings(_write(tmp_path / "tz.yaml", {"nightly": {"timezone": "Mars/Olympus"}}))
    with pytest.raises(InputError, match=r"label\.kind: "):
        load_settings(_write(tmp_path / "kind.yaml", {"label": {"kind": "vibes"}}))


def test_a_key_missing_from_the_defaults_is_an_error_naming_it(tmp_path):
    base = _default()
    del base["video"]["face_scale_factor"]
    del base["report"]
    with pytest.raises(InputError, match=r"missing") as caught:
        load_settings(base=_write(tmp_path / "default.yaml", base))
    message = str(caught.value)
    assert "video.face_scale_factor: missing" in message and "report: missing" in message


def test_an_overlay_merges_section_by_section(tmp_path):
    overlay = _write(tmp_path / "mine.yaml", {
        "report": {"top_k": 7},
        "features": {"caption": {"cta_phrases": ["swipe up"]}},
        "tiktok": {"advertiser_ids": ["123"]},
    })
    base, merged = load_settings(), load_settings(overlay)
    assert merged.report.top_k == 7
    assert merged.report.polish_ad_threshold == base.report.polish_ad_threshold  # siblings kept
    assert merged.features.caption.cta_phrases == ["swipe up"]  # a list is replaced, not appended
    assert merged.features.caption.disclosure_tags == base.features.caption.disclosure_tags
    assert merged.tiktok.advertiser_ids == ["123"] and merged.tiktok.base_url == base.tiktok.base_url
    assert merged.video == base.video


def test_an_unreadable_overlay_names_the_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("video: [unclosed", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.yaml is not valid YAML"):
        load_settings(broken)
    listed = _write(tmp_path / "list.yaml", ["video"])
    with pytest.raises(InputError, match="must hold a mapping"):
        load_settings(listed)


def test_settings_are_frozen_and_overrides_validate():
    settings = load_settings()
    with pytest.raises(Exception, match="frozen"):
        settings.report.top_k = 3  # type: ignore[misc]
    assert with_overrides(settings, {"report": {"top_k": 3}}).report.top_k == 3
    with pytest.raises(InputError, match=r"report\.top_k: Input should be greater than 0"):
        with_overrides(settings, {"report": {"top_k": 0}})


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"video": {"dask_workers": "two"}}, r"video\.dask_workers: Input should be a valid integer"),
    ({"video": {"dask_wrkers": 2}}, r"video\.dask_wrkers: unknown setting \(check its spelling and section\)"),
    ({"vidoe": {"dask_workers": 2}}, r"vidoe: unknown setting"),
    ({"video": 2}, r"video: must be a section \(a mapping of settings\), not a single value"),
    ({"nightly": {"timezone": "Mars/Olympus"}}, r"nightly\.timezone: unknown timezone 'Mars/Olympus'"),
    ({"mlflow": {"promotion_metric": "ndcg"}},
     r"mlflow\.promotion_metric: Input should be 'ndcg_at_k', 'precision_at_k' or 'captured_at_k'"),
    ({"ingest": {"source": "s3://bucket"}}, r"ingest\.source: 's3://bucket' is not a source: use one of demo, local:DIR, tiktok"),
    ({"ingest": {"source": "local: "}}, r"ingest\.source: 'local: ' is not a source"),
    ({"nightly": {"cron": "0 25 * * *"}}, r"nightly\.cron: '0 25 \* \* \*' is not a cron expression"),
    ({"nightly": {"train_cron": "weekly"}}, r"nightly\.train_cron: 'weekly' is not a cron expression"),
    ({"monitor": {"cron": "15 * * *"}}, r"monitor\.cron: '15 \* \* \*' is not a cron expression"),
    ({"world": {"end": "yesterday"}}, r"world\.end: 'yesterday' is not a time such as 2026-11-01T00:00:00"),
    ({"world": {"auth": {"lifetime_weights": [1.0]}}}, r"world\.auth: lifetimes_days and lifetime_weights must be lists of the same length"),
    ({"world": {"video": {"preset": "quick"}}}, r"world\.video\.preset: Input should be 'ultrafast', "),
    ({"tiktok": {"base_url": "business-api.tiktok.com"}}, r"tiktok\.base_url: 'business-api\.tiktok\.com' is not an http\(s\):// address"),
    ({"mlflow": {"ui_port": 0}}, r"mlflow\.ui_port: Input should be greater than 0"),
    ({"features": {"decision_period": "week"}}, r"features\.decision_period: 'week' is not a pandas period alias"),
    ({"tiktok": {"baseline_period": "M"}}, r"tiktok\.baseline_period: 'M' is not a pandas period alias"),
    ({"ranker": {"params": {"num_leaf": 7}}},
     r"ranker\.params: 'num_leaf' is not a LightGBM parameter sparkpick knows \(did you mean num_leaves"),
    ({"ranker": {"params": {"objective": "regression"}}}, r"ranker\.params: 'objective' is set by models/ranker\.py"),
    ({"ranker": {"params": {"label_gain": [0, 1]}}}, r"ranker\.params: 'label_gain' is set by ranker\.label_gain"),
    ({"actions": {"new_adgroup": {"pacing": "smooth"}}},
     r"actions\.new_adgroup\.pacing: Input should be 'PACING_MODE_SMOOTH' or 'PACING_MODE_FAST'"),
    ({"actions": {"new_adgroup": {"billing_event": "ocpm"}}}, r"actions\.new_adgroup\.billing_event: Input should be"),
    ({"actions": {"new_adgroup": {"optimization_goal": "convert"}}}, r"actions\.new_adgroup\.optimization_goal: "),
    ({"actions": {"new_adgroup": {"location_ids": ["US"]}}}, r"actions\.new_adgroup\.location_ids\.0: "),
    ({"actions": {"new_adgroup": {"location_ids": []}}}, r"actions\.new_adgroup\.location_ids: "),
    ({"actions": {"new_adgroup": {"pixel_id": "px-1"}}}, r"actions\.new_adgroup\.pixel_id: "),
    ({"tiktok": {"token_env": "MY TOKEN"}}, r"tiktok\.token_env: "),
])
def test_a_bad_override_is_an_input_error_naming_the_setting(overrides, expected):
    # As for a config file: the project's InputError (the CLI exits 2 with one paragraph), not pydantic's.
    with pytest.raises(InputError, match=expected) as caught:
        with_overrides(load_settings(), overrides, where="the flags")
    message = str(caught.value)
    assert message.startswith("Invalid configuration (the flags): ")
    assert "validation error" not in message and "Config" not in message and "pydantic" not in message


@pytest.mark.parametrize("overrides", [
    {"ingest": {"source": "demo"}}, {"ingest": {"source": "tiktok"}}, {"ingest": {"source": "local:/data/brand"}},
    {"mlflow": {"promotion_metric": "ndcg_at_k"}}, {"mlflow": {"promotion_metric": "precision_at_k"}},
    {"monitor": {"cron": ""}}, {"nightly": {"cron": "*/30 1-5 * * MON-FRI"}},
])
def test_every_allowed_choice_is_accepted(overrides):
    section, values = next(iter(overrides.items()))
    assert getattr(with_overrides(load_settings(), overrides), section).model_dump().items() >= values.items()


def test_a_bad_dask_flag_names_the_flag_and_the_setting():
    with pytest.raises(InputError, match=r"\(--dask-address/--dask-workers\): video\.dask_address: 'nowhere' is "
                                         r"not a Dask scheduler address"):
        with_dask(load_settings(), "nowhere", None)


def test_a_bad_setting_exits_2_with_the_setting_named(tmp_path):
    # Through the command as users start it: a bad overlay file, and a bad flag that overrides a setting.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    overlay = _write(tmp_path / "mine.yaml", {"video": {"dask_workers": "two"}})
    for args in (["--config", str(overlay), "featurize"], ["featurize", "--dask-address", "nowhere"]):
        done = subprocess.run([SPARKPICK, "--home", str(tmp_path / "home"), *args], capture_output=True, text=True,
                              timeout=120, env=env, cwd=tmp_path, check=False)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "ValidationError" not in done.stderr, done.stderr
        assert ("video.dask_workers: Input should be a valid integer" in done.stderr
                or "video.dask_address: 'nowhere' is not a Dask scheduler address" in done.stderr), done.stderr


def test_no_setting_has_a_python_default():
    from sparkpick import config

    sections = [c for c in vars(config).values() if isinstance(c, type) and issubclass(c, config._Section)]
    assert len(sections) > 10
    with_default = [f"{cls.__name__}.{name}" for cls in sections for name, field in cls.model_fields.items()
                    if not field.is_required()]
    assert with_default == [], "defaults live in configs/default.yaml only: " + ", ".join(with_default)


def _config_file(tmp_path: Path, kind: str) -> Path:
    """A config overlay that is not a readable settings file, of one `kind`."""
    path = tmp_path / f"{kind}.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "latin1":
        path.write_bytes("report:\n  top_k: 3  # réglé\n".encode("latin-1"))
    elif kind == "deep":
        path.write_text("ranker:\n  params:\n    x: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "expected"), [
    ("folder", "is a folder, not a YAML file"),
    ("latin1", "is not UTF-8 text"),
    ("deep", "nested deeper than 20 levels"),
])
def test_an_unreadable_config_file_is_an_input_error_naming_it(tmp_path, kind, expected):
    path = _config_file(tmp_path, kind)
    with pytest.raises(InputError, match=expected) as caught:
        load_settings(path)
    assert str(path) in str(caught.value)


def test_a_key_given_twice_is_refused_naming_the_key_and_its_line(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("report:\n  top_k: 3\nnightly:\n  retries: 1\nreport:\n  top_k: 7\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"twice\.yaml: line 5: the key 'report' is given twice \(first on line 1\)"):
        load_settings(path)
    path.write_text("report: {top_k: 3, top_k: 7}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 1: the key 'top_k' is given twice"):
        load_settings(path)


def test_anchors_and_aliases_are_refused_so_nothing_expands(tmp_path):
    # "Billion laughs": nine levels of ten aliases each would expand to 10**9 strings inside ranker.params.
    lines = ['ranker:', '  params:', '    a0: &a0 "lol"']
    lines += [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bomb\.yaml: line 3: anchors and aliases \(& and \*\) are not allowed"):
        load_settings(path)


@pytest.mark.parametrize("kind", ["folder", "latin1", "deep"])
def test_an_unreadable_config_exits_2_naming_the_file(tmp_path, kind):
    path = _config_file(tmp_path, kind)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([SPARKPICK, "--home", str(tmp_path / "home"), "--config", str(path), "featurize"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 2, done.stderr
    assert str(path) in done.stderr and "Traceback" not in done.stderr, done.stderr


# A setting the README names with its default in brackets: "`monitor.pause_rate` (5%", "(90 days)".
_QUOTED_DEFAULT = re.compile(r"`([a-z_]+(?:\.[a-z_0-9]+)+)`,?\s{0,2}\((\d+(?:\.\d+)?)(%| days)?[,)\s]")


def _misquoted_defaults(text: str, defaults: dict[str, Any]) -> list[str]:
    """Each "`setting` (value" in `text` whose value is not the setting's default in `defaults`."""
    wrong = []
    for match in _QUOTED_DEFAULT.finditer(text):
        key, number, unit = match.groups()
        node: Any = defaults
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        quoted = float(number) / 100 if unit == "%" else float(number) * 24 if unit == " days" else float(number)
        if not isinstance(node, int | float) or abs(float(node) - quoted) > 1e-9:
            wrong.append(f"{key}: README says {number}{unit or ''}, configs/default.yaml has {node}")
    return wrong


def test_the_readme_quotes_the_defaults_as_they_are():
    # The explanation lives in configs/default.yaml; where the README quotes a default, it must be that one.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(_QUOTED_DEFAULT.findall(readme)) >= 5
    assert _misquoted_defaults(readme, _default()) == []
    assert _misquoted_defaults("`report.top_k` (7) and `monitor.pause_rate` (5%)", _default()) == [
        "report.top_k: README says 7, configs/default.yaml has 5"]


def test_an_unknown_lightgbm_parameter_names_the_setting_and_the_file(tmp_path):
    overlay = _write(tmp_path / "mine.yaml", {"ranker": {"params": {"num_leaves": 15, "lerning_rate": 0.1}}})
    with pytest.raises(InputError, match=r"ranker\.params: 'lerning_rate' is not a LightGBM parameter") as caught:
        load_settings(overlay)
    assert "mine.yaml" in str(caught.value) and "did you mean learning_rate" in str(caught.value)


def test_every_lightgbm_parameter_sparkpick_accepts_is_one_lightgbm_knows():
    import inspect

    import lightgbm
    from lightgbm.basic import _ConfigAliases

    from sparkpick.config import LIGHTGBM_PARAMS, LIGHTGBM_SET_ELSEWHERE

    aliases = _ConfigAliases._get_all_param_aliases()  # LightGBM's own table: name -> its aliases
    known = set(aliases) | {a for names in aliases.values() for a in names}
    known |= set(inspect.signature(lightgbm.LGBMRanker.__init__).parameters) - {"self", "kwargs"}
    assert known >= LIGHTGBM_PARAMS, sorted(LIGHTGBM_PARAMS - known)
    assert set(LIGHTGBM_SET_ELSEWHERE) <= known and not LIGHTGBM_PARAMS & set(LIGHTGBM_SET_ELSEWHERE)
    # The defaults' own parameters pass, and a model can be built from them; core names and aliases pass too.
    lightgbm.LGBMRanker(**load_settings().ranker.params)
    tuned = with_overrides(load_settings(), {"ranker": {"params": {"max_bin": 63, "lambda_l2": 1.0}}}).ranker
    assert tuned.params["max_bin"] == 63 and tuned.params["num_leaves"] == load_settings().ranker.params["num_leaves"]


def test_a_new_ad_group_takes_the_values_the_api_accepts():
    new = {"pixel_id": "7081234567", "pacing": "PACING_MODE_FAST", "billing_event": "CPC"}
    got = with_overrides(load_settings(), {"actions": {"new_adgroup": new}}).actions.new_adgroup
    assert got.model_dump().items() >= new.items()
