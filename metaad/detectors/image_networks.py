"""Convolutional networks for image inputs (N×H×W or N×C×H×W), chosen by the input shape.

The deep detectors that accept images (``autoencoder``, ``vae``, ``deep_svdd``, ``wgan``) build these when
their fitted input has more than one dimension per row, and the MLPs of :mod:`metaad.detectors.networks`
otherwise. Images are standardized with one global mean and standard deviation (not per pixel): per-pixel
scaling blows up the always-black border pixels of digits and makes the network chase noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

#: Channels of the two stride-2 convolutions when the caller does not choose them.
DEFAULT_CHANNELS: tuple[int, ...] = (16, 32)


def is_image_shape(input_shape: Sequence[int]) -> bool:
    """True when a row has an image shape (H, W) or (C, H, W) rather than a feature vector.

    Examples
    --------
    >>> is_image_shape((28, 28)), is_image_shape((3, 32, 32)), is_image_shape((21,))
    (True, True, False)
    """
    return len(tuple(input_shape)) in (2, 3)


def image_dims(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """(channels, height, width) of an image row shape; (H, W) means one channel.

    Examples
    --------
    >>> image_dims((28, 28)), image_dims((3, 32, 32))
    ((1, 28, 28), (3, 32, 32))
    """
    shape = tuple(int(s) for s in input_shape)
    return (1, *shape) if len(shape) == 2 else shape  # type: ignore[return-value]


def global_scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale arrays that all hold one global mean and standard deviation.

    They have the layout :class:`~metaad.detectors.deep.BaseDeepDetector` stores (one value per pixel), so
    scaling, saving and loading work unchanged.

    Examples
    --------
    >>> mean, scale = global_scaler(np.array([[[0.0, 2.0]], [[4.0, 6.0]]]))
    >>> mean.tolist(), [round(float(v), 3) for v in scale]
    ([3.0, 3.0], [2.236, 2.236])
    """
    n_features = int(np.prod(X.shape[1:]))
    mean = float(X.mean(dtype=np.float64))
    std = float(X.std(dtype=np.float64))
    std = std if std > 1e-12 else 1.0
    return np.full(n_features, mean, dtype=np.float32), np.full(n_features, std, dtype=np.float32)


class ImageScalingMixin:
    """Put before :class:`BaseDeepDetector` in the bases: images get one global mean/std, tables per column."""

    def _fit_scaler(self, X: np.ndarray) -> None:
        if X.ndim > 2 and self.standardize:
            self.scaler_mean_, self.scaler_scale_ = global_scaler(X)
        else:
            super()._fit_scaler(X)  # type: ignore[misc]


def _as_nchw(x: torch.Tensor, dims: tuple[int, int, int]) -> torch.Tensor:
    return x.reshape(x.shape[0], *dims)


class ConvEncoder(nn.Module):
    """Stride-2 convolutions (kernel 4) then a linear map to ``out_size`` values per image.

    Parameters
    ----------
    input_shape : (H, W) or (C, H, W)
    out_size : int
        Width of the output (the latent code, or the critic's features).
    channels : sequence of int
        Output channels of each convolution; each one halves the height and width.
    bias : bool
        False for a bias-free network (Deep SVDD: a bias lets the network map everything to the centre).
    batch_norm : bool
        Batch normalization without affine parameters after each convolution (keeps the network bias-free).

    Examples
    --------
    >>> enc = ConvEncoder((28, 28), 10)
    >>> enc(torch.zeros(5, 28, 28)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        out_size: int,
        *,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        bias: bool = True,
        batch_norm: bool = False,
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        self.dims = image_dims(input_shape)
        layers: list[nn.Module] = []
        n_in, height, width = self.dims
        for n_out in channels:
            layers.append(nn.Conv2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm2d(n_out, affine=False))
            layers.append(nn.LeakyReLU(negative_slope))
            n_in, height, width = n_out, height // 2, width // 2
        self.conv = nn.Sequential(*layers)
        self.feature_map = (n_in, max(height, 1), max(width, 1))
        self.linear = nn.Linear(int(np.prod(self.feature_map)), out_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.conv(_as_nchw(x, self.dims)).flatten(1))


class ConvDecoder(nn.Module):
    """A linear map from the code to a small feature map, then transposed convolutions up to the image shape.

    The output has the input's layout ((N, H, W) or (N, C, H, W)); sizes that are not a multiple of
    ``2 ** len(channels)`` are matched by a final bilinear resize.

    Examples
    --------
    >>> dec = ConvDecoder((3, 32, 32), 10)
    >>> dec(torch.zeros(2, 10)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        output_shape: Sequence[int],
        in_size: int,
        *,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        bias: bool = True,
        negative_slope: float = 0.1,
    ) -> None:
        super().__init__()
        self.output_shape = tuple(int(s) for s in output_shape)
        self.dims = image_dims(output_shape)
        n_out_channels, height, width = self.dims
        factor = 2 ** len(channels)
        self.start = (int(channels[-1]), max(height // factor, 1), max(width // factor, 1))
        self.linear = nn.Linear(in_size, int(np.prod(self.start)), bias=bias)
        layers: list[nn.Module] = [nn.LeakyReLU(negative_slope)]
        reversed_channels = list(reversed(channels))
        for i, n_in in enumerate(reversed_channels):
            n_out = reversed_channels[i + 1] if i + 1 < len(reversed_channels) else n_out_channels
            layers.append(nn.ConvTranspose2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=bias))
            if i + 1 < len(reversed_channels):
                layers.append(nn.LeakyReLU(negative_slope))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.deconv(self.linear(z).reshape(z.shape[0], *self.start))
        if tuple(x.shape[2:]) != self.dims[1:]:
            x = F.interpolate(x, size=self.dims[1:], mode="bilinear", align_corners=False)
        return x.reshape(z.shape[0], *self.output_shape)


class ConvAutoencoder(nn.Module):
    """:class:`ConvEncoder` to ``latent_size`` and :class:`ConvDecoder` back to the input shape.

    Examples
    --------
    >>> net = ConvAutoencoder((28, 28), 10)
    >>> net(torch.zeros(4, 28, 28)).shape
    torch.Size([4, 28, 28])
    """

    def __init__(self, input_shape: Sequence[int], latent_size: int, *, channels: Sequence[int] = DEFAULT_CHANNELS, bias: bool = True) -> None:
        super().__init__()
        self.encoder = ConvEncoder(input_shape, latent_size, channels=channels, bias=bias)
        self.decoder = ConvDecoder(input_shape, latent_size, channels=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
