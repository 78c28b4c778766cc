"""The benchmark layer: configurations (the zoo), datasets, the evaluation protocol and the results store.

A *trial* is one (dataset, size, configuration, seed). :mod:`~metaad.benchmark.zoo` names the configurations,
:mod:`~metaad.benchmark.datasets` finds and subsamples the labelled datasets, :mod:`~metaad.benchmark.protocol`
runs one trial exactly as the datasets are reported with, and :mod:`~metaad.benchmark.store` records results so
that a killed run loses nothing. Where trials run (a local process pool, Ray) is :mod:`metaad.engine`'s business.

Examples
--------
>>> from metaad.benchmark import get_zoo
>>> len(get_zoo("default-v2")) < len(get_zoo("default-v1"))
True
"""

from metaad.benchmark.zoo import Configuration, get_zoo, list_zoos

__all__ = ["Configuration", "get_zoo", "list_zoos"]
