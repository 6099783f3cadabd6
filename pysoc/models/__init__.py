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
    """The class of a registry model (imported on first use).

    Parameters
    ----------
    name : str
        Registry (namelist) name, case-insensitive.

    Returns
    -------
    type
        A :class:`~pysoc.models.base.SoilCarbonModel` subclass.

    Raises
    ------
    ConfigError
        Unknown name, or a model whose kernel is not in this build.

    Examples
    --------
    >>> model_class("CLM5").name
    'clm5'
    >>> model_class("clm6")
    Traceback (most recent call last):
    pysoc.errors.ConfigError: unknown model 'clm6' (known: ...)
    """
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
    """A configured model instance.

    Parameters
    ----------
    name : str
        Registry (namelist) name.
    **options
        Keys of the namelist group ``&<name>``.

    Returns
    -------
    SoilCarbonModel

    Raises
    ------
    ConfigError
        Unknown model or option.

    Examples
    --------
    >>> get_model("compas", grid="clm45_10").nlev
    10
    """
    return model_class(name)(**options)


def available_models() -> list[str]:
    """Registry names of the models whose kernels are in this build, in registry order.

    Returns
    -------
    list of str

    Examples
    --------
    >>> available_models()[:2]
    ['clm5', 'compas']
    """
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
