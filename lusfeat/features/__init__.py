"""Morphology features of lung ultrasound masks: dictionary, backends, tables.

Temporary export list; completed below.
"""

from ._compute import Backend, available_backends, compute, compute_components
from ._dictionary import DICTIONARY, Feature, FeatureDictionary

__all__ = ["Backend", "DICTIONARY", "Feature", "FeatureDictionary", "available_backends",
           "compute", "compute_components"]
