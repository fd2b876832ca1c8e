"""Exception classes shared by every lusfeat stage.

Every error a user can cause (bad input, wrong options, missing files) is a
:class:`LusfeatError`; its message names the file, row or option at fault and
how to fix it. The CLI prints it as one red line and exits non-zero.
"""

from __future__ import annotations

__all__ = ["LusfeatError", "CohortError", "InputError", "ValidationError"]


class LusfeatError(Exception):
    """Base class of all errors lusfeat raises on purpose."""


class InputError(LusfeatError, ValueError):
    """An argument, option or input file is not what the function expects."""


class CohortError(LusfeatError):
    """A cohort folder is missing, unreadable or inconsistent."""


class ValidationError(LusfeatError):
    """Validation found problems; ``problems`` lists every one of them.

    Parameters
    ----------
    problems : list of str
        One message per problem, each naming the item and the fix.
    header : str
        First line of the message.
    """

    def __init__(self, problems: list[str], header: str = "validation failed") -> None:
        self.problems = list(problems)
        lines = [f"{header}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))
