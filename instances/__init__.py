"""Instances: the instance format, named sets, extraction from real models, synthetic generators.

``list_sets()`` yields registered set names; ``load_set(name)`` returns problems with ``.name``,
``.W``, ``.H`` (numpy float64, H exactly as solvers use it) and ``.meta``. torch is imported only
when a model set has to be extracted.
"""
from .sets import list_sets, load_references, load_set
from .store import InstanceFileError, Problem

__all__ = ["list_sets", "load_set", "load_references", "Problem", "InstanceFileError"]
