"""The README's "What lives where" picture matches the tree: every module is named there, and every module
named there exists (a newcomer reads the architecture from it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sparkpick", "features", "models", "flows")


def layout_block(readme: str) -> str:
    """The code block under the README's "What lives where" heading."""
    section = readme.split("## What lives where", 1)[1]
    return section.split("```", 2)[1]


def modules_in_tree() -> set[str]:
    """File names of the packages' modules (`cli.py`) and folder names of their sub-packages (`video/`)."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name != "__init__.py":
                names.add(path.name)
            if path.parent != ROOT / package:
                names.add(f"{path.parent.name}/")
    return names


def names_in_repository() -> set[str]:
    """Every file name and folder name (`templates/`) in the repository, outside hidden folders and venvs."""
    names: set[str] = set()
    for _folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in {"venv", "__pycache__"}]
        names.update(files)
        names.update(f"{d}/" for d in dirs)
    return names


def names_in_block(block: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][\w]*\.py\b|[A-Za-z_][\w]*/", block)) - {f"{p}/" for p in PACKAGES}


def test_every_module_is_named_in_the_readme_layout() -> None:
    block = layout_block((ROOT / "README.md").read_text(encoding="utf-8"))
    missing = sorted(modules_in_tree() - names_in_block(block))
    assert not missing, f"README's 'What lives where' does not name: {missing}"


def test_every_module_the_readme_names_exists() -> None:
    block = layout_block((ROOT / "README.md").read_text(encoding="utf-8"))
    stale = sorted(names_in_block(block) - names_in_repository())
    assert not stale, f"README's 'What lives where' names modules that do not exist: {stale}"


def test_the_check_can_fail() -> None:
    assert names_in_block("x/  a.py, b/ (c.py)") == {"x/", "a.py", "b/", "c.py"}
    assert "nope.py" not in modules_in_tree()
