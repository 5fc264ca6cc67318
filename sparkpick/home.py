"""The home: the folder that holds everything a run writes (data, model store, reports, cache)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sparkpick.config import Settings

# The home's own MLflow store (tracking and registry) under mlruns/.
MLFLOW_DB = "mlflow.db"


@dataclass(frozen=True)
class Home:
    """The folder that holds everything a run writes."""

    root: Path

    @classmethod
    def at(cls, root: Path | str) -> Home:
        return cls(Path(root).expanduser().resolve())

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def mlruns(self) -> Path:
        return self.root / "mlruns"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def scratch(self) -> Path:
        """Temporary files of running steps (Dask's worker space, copies of remote videos); emptied after
        each run, and a killed run's leftovers are swept at the next start (`sparkpick/scratch.py`)."""
        return self.cache / "scratch"

    def has_model_store(self) -> bool:
        """Whether the home's own MLflow store exists (nothing has been trained here when it does not)."""
        return (self.mlruns / MLFLOW_DB).is_file()

    def tracking_uri(self, settings: Settings) -> str:
        """The MLflow tracking URI: the configured one, or the home's SQLite store."""
        if settings.mlflow.tracking_uri:
            return settings.mlflow.tracking_uri
        return f"sqlite:///{self.mlruns / MLFLOW_DB}"

    def ensure(self) -> Home:
        for folder in (self.data, self.mlruns, self.reports, self.cache):
            folder.mkdir(parents=True, exist_ok=True)
        return self
