"""The data contract: the tables users fill (`tables.py`) and the check every source's rows pass (`check.py`,
with `parse.py` for cells, `dates.py` for dates that cannot be right and `problems.py` for what it reports).

`from sparkpick.contract import ...` is the way in; the submodules are how it is laid out.
"""

from sparkpick.contract.check import validate_frames, validate_table
from sparkpick.contract.problems import (
    MAX_PROBLEMS_SHOWN,
    CheckedTables,
    Problem,
    key_text,
    problem_list,
    unknown_ids,
)
from sparkpick.contract.tables import (
    ADVERTISERS,
    AUTH_STATUSES,
    BASELINES,
    CREATORS,
    DTYPES,
    METRICS,
    PARTNERSHIP_KINDS,
    PARTNERSHIPS,
    POSTS,
    SPARK_HOURLY,
    SPARK_RESULTS,
    SPECS,
    TABLES,
    Column,
    Kind,
    TableSpec,
    as_utc,
    typed_frame,
)

__all__ = [
    "ADVERTISERS",
    "AUTH_STATUSES",
    "BASELINES",
    "CREATORS",
    "DTYPES",
    "MAX_PROBLEMS_SHOWN",
    "METRICS",
    "PARTNERSHIPS",
    "PARTNERSHIP_KINDS",
    "POSTS",
    "SPARK_HOURLY",
    "SPARK_RESULTS",
    "SPECS",
    "TABLES",
    "CheckedTables",
    "Column",
    "Kind",
    "Problem",
    "TableSpec",
    "as_utc",
    "key_text",
    "problem_list",
    "typed_frame",
    "unknown_ids",
    "validate_frames",
    "validate_table",
]
