"""What a training run records beside the model: its config without secrets, its data's fingerprint and dtypes."""

from __future__ import annotations

import pandas as pd

from models.run_record import fingerprint, flatten, integers_as_doubles, pip_requirements


def test_flatten_leaves_out_secrets() -> None:
    flat = flatten({"a": {"b": 1, "api_key": "x"}, "c": [1, 2], "tiktok": {"access_token": "t", "password": "p"}})
    assert flat == {"a.b": "1", "c": "[1, 2]"}


def test_integers_become_doubles_and_nothing_else_changes() -> None:
    frame = pd.DataFrame({"n": [1, 2], "maybe": pd.array([3, None], dtype="Int64"), "x": [0.5, 1.5],
                          "flag": [True, False], "id": ["7", "8"]})
    out = integers_as_doubles(frame)
    assert out.dtypes.astype(str).to_dict() == {"n": "float64", "maybe": "float64", "x": "float64",
                                                "flag": "bool", "id": str(frame["id"].dtype)}
    assert out["maybe"].isna().tolist() == [False, True] and out["n"].tolist() == [1.0, 2.0]
    assert integers_as_doubles(out) is out


def test_the_same_data_gives_the_same_fingerprint_and_any_change_another() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert fingerprint(frame) == fingerprint(frame.copy()) and len(fingerprint(frame)) == 16
    assert fingerprint(frame) != fingerprint(frame.iloc[::-1])                  # row order counts
    assert fingerprint(frame) != fingerprint(frame.rename(columns={"b": "c"}))  # so do the names
    assert fingerprint(frame) != fingerprint(frame.assign(a=[1, 2, 4]))


def test_the_served_model_pins_only_what_it_needs_never_sparkpick() -> None:
    pins = pip_requirements()
    assert {p.split("==")[0] for p in pins} == {"lightgbm", "pandas", "numpy", "scikit-learn", "mlflow"}
    assert all("==" in p and p.split("==")[1] for p in pins)
