"""One idea, one home (issue #19): helpers that were copied from module to module are defined once, and a
new copy fails here. Each check reads the production packages' and benchmarks' source and names the file
that copies."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sparkpick", "features", "models", "flows", "benchmarks")
FILES_HOME = "sparkpick/files.py"
CLOCK_HOME = "sparkpick/clock.py"


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


def _renames(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    owner, name = node.func.value, node.func.attr
    by_os = name in ("replace", "rename") and isinstance(owner, ast.Name) and owner.id == "os"
    return by_os or (name == "replace" and len(node.args) == 1 and not node.keywords)


def renames_over_files(tree: ast.Module) -> list[int]:
    """Lines that rename over a file: `os.replace`/`os.rename`, or `.replace(target)` with one argument (a
    `Path`'s; `str.replace` takes two)."""
    return [node.lineno for node in ast.walk(tree) if _renames(node)]


def _hashes_a_file(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "file_digest"
    if isinstance(node, ast.NamedExpr):  # while chunk := handle.read(...): digest.update(chunk)
        value = node.value
        return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "read"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        owner = node.func.value
        reads = any(isinstance(n, ast.Attribute) and n.attr == "read_bytes" for a in node.args for n in ast.walk(a))
        return isinstance(owner, ast.Name) and owner.id == "hashlib" and reads
    return False


def file_hashes(tree: ast.Module) -> list[int]:
    """Lines that hash a file's bytes: `hashlib.file_digest`, a hash of `.read_bytes()`, or a digest fed in
    chunks read from a handle."""
    return [node.lineno for node in ast.walk(tree) if _hashes_a_file(node)]


def test_only_the_files_helper_renames_over_a_file() -> None:
    found = {path: lines for path, tree in modules() if path != FILES_HOME and (lines := renames_over_files(tree))}
    assert not found, f"write through sparkpick.files (write_atomic, atomic_path, move_over) instead: {found}"


def test_only_the_files_helper_hashes_a_file() -> None:
    found = {path: lines for path, tree in modules() if path != FILES_HOME and (lines := file_hashes(tree))}
    assert not found, f"hash through sparkpick.files (file_sha256, stream_sha256) instead: {found}"


def test_the_file_checks_can_fail() -> None:
    copies = ast.parse(
        "os.replace(a, b)\ntmp.replace(path)\nhashlib.sha256(p.read_bytes())\n"
        "while chunk := fh.read(1024):\n    d.update(chunk)\nhashlib.file_digest(fh, 'sha256')\n"
    )
    assert sorted(renames_over_files(copies)) == [1, 2]
    assert sorted(file_hashes(copies)) == [3, 4, 6]
    fine = ast.parse("name.replace('_', ' ')\nseries.rename('x')\nhashlib.sha256(text.encode())\n")
    assert renames_over_files(fine) == [] and file_hashes(fine) == []


def _is_an_hour(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("HOUR", "_HOUR")
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Timedelta"
            and any(k.arg == "hours" and isinstance(k.value, ast.Constant) and k.value.value == 1
                    for k in node.keywords))


def hour_end_checks(tree: ast.Module) -> list[int]:
    """Lines that compare an hour's end (`start + 1 h`) with a moment: "hours ended by T" written again."""
    return [
        node.lineno for node in ast.walk(tree) if isinstance(node, ast.Compare)
        and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) and _is_an_hour(n.right) for n in ast.walk(node))
    ]


def test_only_the_clock_says_which_hours_had_ended() -> None:
    found = {path: lines for path, tree in modules() if path != CLOCK_HOME and (lines := hour_end_checks(tree))}
    assert not found, f"use sparkpick.clock (hour_ended_by, hours_ended_by) instead: {found}"


def test_the_hour_check_can_fail() -> None:
    copies = ast.parse("rows[rows.hour_start + HOUR <= t]\nif s + pd.Timedelta(hours=1) > t: pass\n")
    assert sorted(hour_end_checks(copies)) == [1, 2]
    assert hour_end_checks(ast.parse("x = s + HOUR\nif s + pd.Timedelta(hours=2) > t: pass\n")) == []
