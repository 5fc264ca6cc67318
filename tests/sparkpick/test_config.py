"""Settings: configs/default.yaml is the one source; overlays merge; every error names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparkpick.config import DEFAULT_CONFIG, load_settings, with_overrides
from sparkpick.errors import InputError


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
    with pytest.raises(Exception, match="top_k"):
        with_overrides(settings, {"report": {"top_k": 0}})


def test_no_setting_has_a_python_default():
    from sparkpick import config

    sections = [c for c in vars(config).values() if isinstance(c, type) and issubclass(c, config._Section)]
    assert len(sections) > 10
    with_default = [f"{cls.__name__}.{name}" for cls in sections for name, field in cls.model_fields.items()
                    if not field.is_required()]
    assert with_default == [], "defaults live in configs/default.yaml only: " + ", ".join(with_default)
