"""Exception hierarchy. Every message is one line that names the file, key or
parameter at fault and the allowed range, so a user can fix the input without a
traceback."""

from __future__ import annotations


class PysocError(Exception):
    """Base class of all pysoc errors."""


class ConfigError(PysocError):
    """Invalid configuration: namelist keys, options, parameter values."""


class ParameterError(ConfigError):
    """A parameter value outside its physical domain (or of the wrong shape)."""


class DataError(PysocError):
    """Invalid or missing input data: forcing files, observations, covariates."""


class InputTypeError(PysocError, TypeError):
    """An argument of the Python API of the wrong type (e.g. ``steady_state(None)``); a
    TypeError as well, so ``except TypeError`` keeps working."""


class KernelError(PysocError):
    """A kernel returned a non-ok status for a single evaluation."""

    def __init__(self, message: str, code: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason


class PysocWarning(UserWarning):
    """A configuration that runs but probably not as intended (the CLIs print one line)."""
