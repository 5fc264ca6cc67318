"""The invocation is resolved once, from options and the environment, and is the only reader of it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from flows.invocation import HOME_ENV, TRACKING_ENV, resolve

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sparkpick", "features", "models", "flows")
READER = Path("flows/invocation.py")


def _environment_uses(path: Path) -> list[str]:
    """Every `os.environ`, `os.getenv`, `environ` or `getenv` name in a module, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb", "getenvb"}:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{path.relative_to(ROOT)}:{node.lineno} from os import {a.name}" for a in node.names
                      if a.name in {"environ", "getenv", "environb", "getenvb"}]
    return found


def test_only_the_invocation_reads_the_environment():
    offenders = [
        use
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT) != READER
        for use in _environment_uses(path)
    ]
    assert offenders == [], "the environment is read only in flows/invocation.py:\n" + "\n".join(offenders)
    assert _environment_uses(ROOT / READER), "the scan must find the reader's own reads (or it sees nothing)"


def test_home_comes_from_the_option_then_the_environment_then_the_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert resolve().home_dir == tmp_path
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    assert resolve().home_dir == tmp_path / "from-env"
    assert resolve(tmp_path / "given").home_dir == tmp_path / "given"
    assert resolve(str(tmp_path / "given")).home.root.is_dir()


def test_tracking_uri_from_the_environment_unless_the_config_sets_one(tmp_path, monkeypatch):
    monkeypatch.setenv(TRACKING_ENV, "sqlite:///elsewhere.db")
    assert resolve(tmp_path).settings.mlflow.tracking_uri == "sqlite:///elsewhere.db"
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(yaml.safe_dump({"mlflow": {"tracking_uri": "sqlite:///configured.db"}}))
    assert resolve(tmp_path, overlay).settings.mlflow.tracking_uri == "sqlite:///configured.db"
    monkeypatch.delenv(TRACKING_ENV)
    unset = resolve(tmp_path)
    assert unset.tracking_uri is None and not unset.settings.mlflow.tracking_uri  # the home's own store


def test_token_is_read_only_for_the_tiktok_source_and_never_travels(tmp_path, monkeypatch):
    inv = resolve(tmp_path)
    variable = inv.settings.tiktok.token_env
    monkeypatch.setenv(variable, "s3cr3t-token")
    assert inv.access_token("tiktok") == "s3cr3t-token"
    assert inv.access_token("demo") is None and inv.access_token("local:/data") is None
    assert "s3cr3t" not in repr(inv) and "s3cr3t" not in repr(inv.token)
    params = inv.flow_parameters()
    assert "s3cr3t-token" not in str(params) and params["home_dir"] == str(tmp_path)


@pytest.mark.parametrize("field", ["home_dir", "tracking_uri"])
def test_invocation_is_frozen(tmp_path, field):
    inv = resolve(tmp_path)
    with pytest.raises(AttributeError):
        setattr(inv, field, None)
