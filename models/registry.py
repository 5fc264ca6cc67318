"""The pickled pyfunc of models registered before the model travelled, at the import path their pickles name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from models.ranker import ScoringModel


class RankerPyfunc(PythonModel):
    """The pickled pyfunc of models registered before the model travelled (one `scoring_model.json`
    artifact): kept so that such a champion still loads and scores here. New models are logged from code."""

    def load_context(self, context: Any) -> None:
        self.model = ScoringModel.from_json(Path(context.artifacts["scoring_model"]).read_text())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.model.predict(model_input).reset_index(drop=True)
