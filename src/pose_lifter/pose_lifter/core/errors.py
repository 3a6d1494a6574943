"""The one base class of user errors, and a helper that keeps echoed user strings short.

Everything a user can get wrong (a bad file, an unknown joint_format, invalid intrinsics,
arrays of the wrong shape) raises a subclass of ``PoseLifterInputError``. The CLI and the node
catch this class, and only this class, as "bad input": any other exception is a bug and keeps
its traceback.
"""
from __future__ import annotations

ECHO_LIMIT = 64


class PoseLifterInputError(ValueError):
    """Input the user can fix: printed as one line by the CLI, counted and skipped by the node."""


class InputContractError(PoseLifterInputError):
    """Arrays that break the documented shape/dtype/finiteness contract of a function."""


def clip(text: object, limit: int = ECHO_LIMIT) -> str:
    """``repr`` of a user-provided value, cut to ``limit`` characters with an ellipsis, so one
    absurd string (a 10k-character joint_format or id) never becomes a 10k-character line."""
    shown = repr(text)
    if len(shown) <= limit:
        return shown
    return f'{shown[:limit - 1]}… ({len(shown)} characters)'
