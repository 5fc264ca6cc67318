"""Imports run one way: flows over models over features over the sparkpick core (module level or not)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Higher floors may import lower ones, never the reverse.
FLOORS = {"sparkpick": 0, "features": 1, "models": 2, "flows": 3}


def _imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in the module, including those inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            out.append((node.lineno, path.relative_to(ROOT).parts[0]))  # relative: same package
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args and isinstance(node.args[0], ast.Constant)):
            out.append((node.lineno, str(node.args[0].value).split(".")[0]))
    return out


def upward_imports() -> list[str]:
    found = []
    for package, floor in FLOORS.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, imported in _imported_packages(path):
                if FLOORS.get(imported, -1) > floor:
                    found.append(f"{path.relative_to(ROOT)}:{line} ({package}) imports {imported}")
    return found


def test_no_module_imports_upward():
    assert upward_imports() == [], "imports must run flows > models > features > sparkpick:\n" + "\n".join(
        upward_imports()
    )


def test_the_walk_sees_function_level_imports(tmp_path, monkeypatch):
    # The check must be able to fail: a function-level import from a lower floor upward is caught.
    module = ROOT / "features" / "caption.py"
    source = module.read_text(encoding="utf-8")
    assert any(imported == "sparkpick" for _, imported in _imported_packages(module))
    probe = tmp_path / "features" / "probe.py"
    probe.parent.mkdir()
    probe.write_text(source + "\n\ndef _late():\n    from models.ranker import RankerEnsemble\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    assert [p for p in upward_imports() if "probe.py" in p and "imports models" in p]
