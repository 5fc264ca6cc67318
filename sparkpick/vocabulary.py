"""The names the code, the tables and the report share for the monitor's decisions, the shortlist's flags and
the actions log's kinds and statuses, defined once; their words for a marketer are in `sparkpick.wording`.
An unknown name fails loudly."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Self, TypeVar

from sparkpick.errors import SparkpickError


class UnknownTermError(SparkpickError):
    """A decision, flag, action kind or status that the vocabulary does not know (a typo, a file from another
    version)."""


def _term(kind: type[StrEnum]) -> str:
    """The vocabulary's name for `kind` in an error: "decision", "action status"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", kind.__name__).lower()


def _known(kind: type[StrEnum], value: Any, shown: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(m.value for m in kind)
        raise UnknownTermError(f"Unknown {_term(kind)} {shown!r}: the known ones are {names}") from None


class _Term(StrEnum):
    """A vocabulary of names, each looked up by `of`."""

    @classmethod
    def of(cls, value: Any) -> Self:
        """The member named `value` ("pause" or Decision.PAUSE); UnknownTermError for any other value."""
        out: Self = _known(cls, value, value)
        return out


class Decision(_Term):
    """The monitor's decision on one live boost, in the order a marketer acts on them (pause first)."""

    PAUSE = "pause"
    SCALE = "scale"
    KEEP = "keep"
    TOO_EARLY = "too_early"

    @property
    def acts(self) -> bool:
        """Whether the decision changes the ad account (pause, add budget) rather than leaving it as it is."""
        return self in (Decision.PAUSE, Decision.SCALE)


class Flag(_Term):
    """A shortlist flag: something the marketer should do or know before boosting the post. Its table column
    is `flag_<name>` (a bool), decided in `features/readiness.py` and `features/matrix.py`."""

    NO_AUTH_CODE = "no_auth_code"
    AUTH_EXPIRING = "auth_expiring"
    NO_USAGE_RIGHTS = "no_usage_rights"
    CALIBRATING = "calibrating"
    LOOKS_LIKE_AD = "looks_like_ad"

    @classmethod
    def of(cls, value: Any) -> Flag:
        """The flag named `value` ("no_auth_code", or its column "flag_no_auth_code"); UnknownTermError else."""
        text = value.removeprefix("flag_") if isinstance(value, str) else value
        out: Flag = _known(cls, text, value)
        return out

    @property
    def column(self) -> str:
        """The flag's column in the candidate and shortlist tables."""
        return f"flag_{self.value}"

    @property
    def blocks(self) -> bool:
        """Whether the flag holds a boost back: such a post takes no shortlist slot and is never a test pick.
        Every flag does; an expiring code too, as it cannot carry a boost through its calibration."""
        return True


class ActionKind(_Term):
    """What one row of the actions log is (`kind`): a call on the ad account, or a person's answer to the
    approval form (`approval`)."""

    LAUNCH = "launch"
    AUTHORIZE = "authorize"
    CREATE_ADGROUP = "create_adgroup"
    CREATE_AD = "create_ad"
    ENABLE_AD = "enable_ad"
    PAUSE = "pause"
    SCALE = "scale"
    UNDO_PAUSE = "undo_pause"
    UNDO_SCALE = "undo_scale"
    APPROVAL = "approval"


class ActionStatus(_Term):
    """What an action came to (the actions log's `status`, and an `Outcome`'s), in the package docstring of
    sparkpick/sources/tiktok/actions/: a call's statuses, a launch's overall one, and an approval's."""

    PLANNED = "planned"  # logged, not sent (a dry run, shadow mode)
    REFUSED = "refused"  # a rule stopped it (sparkpick/guardrails.py), with the reason
    INTENT = "intent"  # sent, answer not yet recorded
    DONE = "done"  # read back as asked
    UNEXPECTED = "unexpected"  # answered OK, but the account says otherwise
    RECONCILED = "reconciled"  # the answer was lost, the account shows the change
    NOT_APPLIED = "not_applied"  # the answer was lost, the account does not show the change
    FAILED = "failed"
    LAUNCHED = "launched"  # a launch whose ad is enabled
    ALREADY = "already"  # nothing to do: the account is already as asked
    WAITING = "waiting"  # an approval form is open for the pick
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"  # the form closed with nothing approved (never logged: read from `waiting`)


K = TypeVar("K", bound=StrEnum)
V = TypeVar("V")

# The flag columns in table order.
FLAG_COLUMNS: tuple[str, ...] = tuple(f.column for f in Flag)


def require_words(kind: type[K], words: dict[K, V]) -> dict[K, V]:
    """`words` (a table keyed by every member of `kind`), checked when the module that holds it is imported: a
    new decision or flag without its words fails at once, never as a blank later."""
    missing = [m.value for m in kind if m not in words]
    if missing:
        raise UnknownTermError(f"No words for {_term(kind)} {', '.join(missing)}")
    return words
