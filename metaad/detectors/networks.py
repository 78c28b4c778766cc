"""Network builders shared by the deep detectors (kept apart from the training wiring)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from metaad.exceptions import ParameterError

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def activation(name: str) -> nn.Module:
    """An activation module by name (``relu``, ``leaky_relu``, ``tanh``, ``elu``, ``gelu``, ``sigmoid``)."""
    if name not in ACTIVATIONS:
        raise ParameterError(f"activation={name!r} is unknown; expected one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def default_latent_size(n_features: int) -> int:
    """Latent width chosen from the input width: 10 for 784 inputs, about a quarter of small inputs.

    Examples
    --------
    >>> default_latent_size(784), default_latent_size(21), default_latent_size(3)
    (10, 5, 2)
    """
    return int(min(10, max(2, n_features // 4)))


def default_hidden_sizes(n_features: int, latent_size: int | None = None) -> tuple[int, ...]:
    """Hidden widths chosen from the input width: 784 inputs give the seed architecture 128-64-32.

    The first layer is the power of two at or above twice the input width, kept within [16, 128]; each further
    layer halves it while it stays at least twice the latent width.

    Examples
    --------
    >>> default_hidden_sizes(784)
    (128, 64, 32)
    >>> default_hidden_sizes(21)
    (64, 32, 16)
    >>> default_hidden_sizes(6)
    (16, 8, 4)
    """
    latent = latent_size if latent_size is not None else default_latent_size(n_features)
    width = int(min(128, max(16, 2 ** math.ceil(math.log2(max(2 * n_features, 2))))))
    sizes = [width]
    while len(sizes) < 3 and sizes[-1] // 2 >= 2 * latent:
        sizes.append(sizes[-1] // 2)
    return tuple(sizes)


def mlp(
    sizes: Sequence[int],
    *,
    activation_name: str = "relu",
    dropout: float = 0.0,
    bias: bool = True,
    final_activation: bool = False,
) -> nn.Sequential:
    """A multilayer perceptron through ``sizes`` (input, hidden..., output).

    Examples
    --------
    >>> mlp([4, 8, 2])
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, bias=bias))
        last = i == len(sizes) - 2
        if not last or final_activation:
            layers.append(activation(activation_name))
            if dropout > 0 and not last:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """Encoder ``n_features → hidden_sizes → latent_size`` and the mirrored decoder."""

    def __init__(self, n_features: int, hidden_sizes: Sequence[int], latent_size: int, *, activation_name: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = mlp([n_features, *hidden_sizes, latent_size], activation_name=activation_name, dropout=dropout)
        self.decoder = mlp([latent_size, *reversed(hidden_sizes), n_features], activation_name=activation_name, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
