"""Detectors: the contract, the registry, classical adapters, deep detectors, networks and the one trainer."""

from metaad.detectors.base import BaseDetector
from metaad.detectors.registry import DetectorInfo, get_detector_info, list_detectors, make_detector, register
from metaad.detectors import classical as _classical  # noqa: F401  (registers the PyOD adapters)
from metaad.detectors.autoencoder import AutoEncoderDetector
from metaad.detectors.deep import BaseDeepDetector
from metaad.detectors.vae import VAEDetector
from metaad.detectors.deep_svdd import DeepSVDDDetector
from metaad.detectors.wgan import WGANDetector
from metaad.detectors.devnet import DevNetDetector
from metaad.detectors.mmd import MMDDetector
from metaad.detectors.deep_sad import DeepSADDetector
from metaad.detectors.stacked import StackedDetector

__all__ = [
    "AutoEncoderDetector",
    "BaseDeepDetector",
    "BaseDetector",
    "DeepSADDetector",
    "DeepSVDDDetector",
    "DevNetDetector",
    "MMDDetector",
    "StackedDetector",
    "VAEDetector",
    "WGANDetector",
    "DetectorInfo",
    "get_detector_info",
    "list_detectors",
    "make_detector",
    "register",
]
