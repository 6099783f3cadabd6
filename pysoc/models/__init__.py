"""Soil-carbon models behind one interface (:class:`~pysoc.models.base.SoilCarbonModel`).

``get_model(name, **options)`` returns a configured model. The registry maps the
namelist name of each model to its class; models are imported lazily.
"""

from __future__ import annotations

import importlib

from pysoc.errors import ConfigError
from pysoc.models.base import BatchResult, SoilCarbonModel

#: namelist name -> "module:Class"
REGISTRY = {
    "clm5": "pysoc.models.clm5:CLM5",
    "compas": "pysoc.models.compas:COMPAS",
    "mimics": "pysoc.models.mimics:MIMICS",
    "century": "pysoc.models.century:Century",
    "twopool": "pysoc.models.twopool:TwoPool",
}

#: the default of every ``&<workflow> model`` key (the first registry model)
DEFAULT_MODEL = next(iter(REGISTRY))


def model_class(name: str) -> type[SoilCarbonModel]:
    key = str(name).lower()
    if key not in REGISTRY:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(REGISTRY)})")
    module, cls = REGISTRY[key].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            raise ConfigError(f"model {name!r} is not available in this build of pysoc") from None
        raise


def get_model(name: str, **options) -> SoilCarbonModel:
    """A configured model instance; options are the keys of the namelist group &<name>."""
    return model_class(name)(**options)


def available_models() -> list[str]:
    out = []
    for name in REGISTRY:
        try:
            model_class(name)
        except ConfigError:
            continue
        out.append(name)
    return out


def models_with(*capabilities: str) -> list[str]:
    """Names of the available registry models that implement every one of ``capabilities``
    (names of :data:`pysoc.models.base.CAPABILITIES`), in registry order. Workflows take
    their model choices from here, so that a new model implementing the capabilities is
    accepted without editing the workflow.

    Parameters
    ----------
    *capabilities : str
        Capability names, e.g. ``"site_forcing"``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "clm5" in models_with("site_forcing", "cell_forcing", "system_components")
    True
    >>> "century" in models_with("site_forcing")
    False
    """
    return [n for n in available_models() if all(model_class(n).provides(c) for c in capabilities)]


__all__ = ["DEFAULT_MODEL", "get_model", "model_class", "available_models", "models_with", "BatchResult",
           "SoilCarbonModel", "REGISTRY"]
