"""Kernel status codes (mirror of ``fortran/soc_kinds.f90``; tested against it)."""

from __future__ import annotations

import numpy as np

OK = 0
ERR_SHAPE = 1
ERR_PARAM = 2
ERR_FORCING = 3
ERR_SINGULAR = 4
ERR_NOT_CONVERGED = 5
ERR_INVALID = 6
ERR_NONFINITE = 7

#: code -> (short name, message)
STATUS = {
    OK: ("ok", "success"),
    ERR_SHAPE: ("bad_shape", "inconsistent array dimensions"),
    ERR_PARAM: ("bad_parameter", "parameter outside its physical domain"),
    ERR_FORCING: ("bad_forcing", "forcing outside its physical domain or not finite"),
    ERR_SINGULAR: ("singular", "singular or numerically singular system (e.g. a zero decomposition rate with no transport)"),
    ERR_NOT_CONVERGED: ("not_converged", "iterative solver did not converge"),
    ERR_INVALID: ("invalid_solution", "the steady state exists but is not physical"),
    ERR_NONFINITE: ("non_finite", "non-finite value in the result"),
}

#: CF attributes for a status variable.
FLAG_VALUES = np.array(sorted(STATUS), dtype=np.int32)
FLAG_MEANINGS = " ".join(STATUS[k][0] for k in sorted(STATUS))


def name(code: int) -> str:
    return STATUS.get(int(code), (f"unknown_{int(code)}", ""))[0]


def message(code: int) -> str:
    return STATUS.get(int(code), ("", f"unknown status {int(code)}"))[1]


def cf_attrs() -> dict:
    return {"flag_values": FLAG_VALUES, "flag_meanings": FLAG_MEANINGS,
            "long_name": "kernel status", "units": "1"}
