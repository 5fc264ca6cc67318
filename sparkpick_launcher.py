"""The `sparkpick` command's entry point: it claims the project's top-level names, then runs the CLI.

The project keeps `flows/`, `models/` and `features/` at the top of the tree, installed as top-level
packages. Names that common collide: a `models` package in the current folder, on PYTHONPATH or installed
by another project would be imported instead of sparkpick's (an editable install's finder is appended to
`sys.meta_path`, after the path search, so any such package wins). So the command first puts the folder
that holds the `sparkpick` package (a unique name: the project's own) at the front of `sys.path` and drops
any other package of those names already imported. Child processes (Dask and video workers, Prefect's
flow-run subprocesses) start with the parent's `sys.path`, so they import the same packages.

The registered model does not depend on any of this: it loads without sparkpick (models/sparkpick_ranker_pyfunc.py).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# The project's top-level packages whose names other projects use too.
CLAIMED = ("flows", "models", "features")
ANCHOR = "sparkpick"


def project_root() -> Path:
    """The folder holding the `sparkpick` package as Python would import it (a checkout, or site-packages)."""
    spec = importlib.util.find_spec(ANCHOR)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"The {ANCHOR!r} package is not importable: install sparkpick (pip install -e .).")
    return Path(next(iter(spec.submodule_search_locations))).resolve().parent


def _is_under(module: object, root: Path) -> bool:
    where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", []) or []), None)
    return where is not None and Path(where).resolve().is_relative_to(root)


def claim_names(root: Path | None = None) -> Path:
    """Make `flows`, `models` and `features` import from the project at `root` (default `project_root()`):
    `root` goes first on `sys.path` and other modules of those names are forgotten. Returns `root`."""
    root = (root or project_root()).resolve()
    missing = [name for name in CLAIMED if not (root / name / "__init__.py").is_file()]
    if missing:
        raise ImportError(f"{root} holds the {ANCHOR!r} package but not {', '.join(missing)}: a broken install.")
    sys.path[:] = [str(root), *(p for p in sys.path if Path(p or ".").resolve() != root)]
    for name in list(sys.modules):
        if name.split(".")[0] in CLAIMED and not _is_under(sys.modules[name], root):
            del sys.modules[name]
    importlib.invalidate_caches()
    return root


def main() -> None:
    claim_names()
    from flows.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
