"""One idea, one home (issue #19): helpers that were copied from module to module are defined once, and a
new copy fails here. Each check reads the production packages' source, so it names the file that copies."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sparkpick", "features", "models", "flows")


def modules() -> Iterator[tuple[str, ast.Module]]:
    """(path relative to the repository, parsed module) of every production module."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def dtype_maps(tree: ast.Module) -> list[int]:
    """Lines of dict literals mapping the contract's column kinds to pandas dtypes (a copy of `DTYPES`;
    the warehouse's map from a kind to its SQL type is another idea and is not counted)."""
    kinds = {"id", "time", "int", "float", "bool"}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            pairs = {k.value: v for k, v in zip(node.keys, node.values, strict=True)
                     if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            time = pairs.get("time")
            if kinds <= set(pairs) and isinstance(time, ast.Constant) and str(time.value).startswith("datetime64"):
                lines.append(node.lineno)
    return lines


def test_the_contract_dtype_map_is_defined_once() -> None:
    found = {path: lines for path, tree in modules() if (lines := dtype_maps(tree))}
    assert found == {"sparkpick/contract/tables.py": found.get("sparkpick/contract/tables.py", [])}, (
        f"a copy of the contract's dtype map (use sparkpick.contract.DTYPES): {found}"
    )
    assert found["sparkpick/contract/tables.py"], "the one map is gone from sparkpick/contract/tables.py"


def test_the_dtype_check_can_fail() -> None:
    copy = ast.parse('M = {"id": "str", "time": "datetime64[us]", "int": "Int64", "float": "f", "bool": "b"}')
    assert dtype_maps(copy) == [1]
    assert dtype_maps(ast.parse('M = {"id": 1, "time": 2}')) == []
    assert dtype_maps(ast.parse('M = {"id": "V", "time": "TIMESTAMP", "int": "B", "float": "D", "bool": "B"}')) == []
