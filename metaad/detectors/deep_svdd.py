"""One-class Deep SVDD (Ruff et al., ICML 2018): map normal data into a small hypersphere around a fixed centre.

Three details decide whether Deep SVDD learns anything, and each is done here:

* the network has **no bias terms** (with a bias it can output the centre for every input: the hypersphere
  collapses and every score is the same);
* the centre ``c`` is **fixed** from one forward pass of the (optionally pretrained) network over the training
  data, not learned, and coordinates with ``|c_i| < eps`` are pushed to ``±eps`` (a zero coordinate is reachable
  trivially by dead ReLU units);
* the encoder is **pretrained** as the encoder of a bias-free autoencoder (``pretrain_epochs``), as in the paper.

Two more decide whether it ranks anomalies the right way round on **standardized tables**. A bias-free network
is positively homogeneous (``f(a x) = a f(x)``, ``f(0) = 0``) and standardized data sit around the origin, so the
embeddings of normal rows form a small cloud around 0 (norm about 0.03 on 5 Gaussian columns). The old rule
pushed near-zero centre coordinates to an *absolute* ±0.1, outside that cloud: the score is then about
``|c|² - 2 c·f(x)``, and rows far out along a ray whose embedding points towards ``c`` (the anomalies) score
*lower* than the normal rows. With 400 Gaussian rows and 8 rows shifted by +6 in every column, seeds 2 and 4
gave AUROC 0.0 and 0.4 (5 columns). Hence, for tables:

* the push is **relative**: ``|c_i| < eps · std_i`` goes to ``±eps · std_i`` (``std_i``: spread of coordinate
  ``i`` of the training embeddings), so the centre stays inside the cloud of normal embeddings;
* the embedding is **at least 8 wide** (Deep SAD's width for tables, Ruff et al. 2020): a 2-wide embedding of
  5 columns leaves directions the network maps close to the centre whatever their distance.

Over 10 ODDS tables (2 seeds, 70/30 split) the mean test AUROC went from 0.555 to 0.669 (WBC 0.448 to 0.971,
glass 0.374 to 0.868, Pima 0.316 to 0.538; vertebral fell from 0.660 to 0.348). Images keep the paper's
absolute ``eps`` and 32-wide embedding (MNIST one-class mean 0.948, BENCHMARKS.md 3.3).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from metaad._constraints import Integral, Interval, Real
from metaad.detectors.deep import BaseDeepDetector
from metaad.detectors.image_networks import ConvDecoder, ConvEncoder, ImageScalingMixin, is_image_shape
from metaad.detectors.networks import mlp
from metaad.detectors.registry import register
from metaad.detectors.trainer import Trainer, TrainingHistory
from metaad.scores.distance import center_distance
from metaad.scores.reconstruction import reconstruction_error


class DeepSVDDNetwork(nn.Module):
    """A bias-free encoder, the bias-free decoder used only for pretraining, and the centre as a buffer.

    The centre is a buffer, so it is saved and loaded with the weights.

    Examples
    --------
    >>> net = DeepSVDDNetwork((6,), (16, 8), 4)
    >>> any(name.endswith("bias") for name, _ in net.named_parameters())
    False
    >>> net(torch.zeros(2, 6)).shape
    torch.Size([2, 4])
    """

    def __init__(self, input_shape: Sequence[int], hidden_sizes: Sequence[int], latent_size: int, *, activation_name: str = "leaky_relu") -> None:
        super().__init__()
        if is_image_shape(input_shape):
            self.encoder: nn.Module = ConvEncoder(input_shape, latent_size, bias=False)
            self.decoder: nn.Module = ConvDecoder(input_shape, latent_size, bias=False)
        else:
            n_features = int(input_shape[0])
            self.encoder = mlp([n_features, *hidden_sizes, latent_size], activation_name=activation_name, bias=False)
            self.decoder = mlp([latent_size, *reversed(hidden_sizes), n_features], activation_name=activation_name, bias=False)
        self.register_buffer("center", torch.zeros(latent_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distance of each row's embedding to the centre (the loss and the score)."""
        return center_distance(self.encoder(x), self.center)


def fix_center(embeddings: torch.Tensor, eps: float, *, relative: bool = False) -> torch.Tensor:
    """Mean embedding with every coordinate of magnitude below ``eps`` pushed to ``±eps`` (0 goes to +eps).

    With ``relative=True`` the bound of coordinate ``i`` is ``eps`` times the standard deviation of that
    coordinate over ``embeddings``, so the centre stays inside the cloud of embeddings.

    Examples
    --------
    >>> fix_center(torch.tensor([[0.5, 0.05, -0.01], [0.3, -0.05, 0.0]]), 0.1).tolist()
    [0.4000000059604645, 0.10000000149011612, -0.10000000149011612]
    >>> emb = torch.tensor([[1.0, 0.02], [-1.0, -0.01]])   # coordinate spreads 1.41 and 0.02
    >>> [round(v, 4) for v in fix_center(emb, 0.1, relative=True).tolist()]
    [0.1414, 0.005]
    """
    center = embeddings.mean(dim=0)
    bound = eps * embeddings.std(dim=0) if relative else torch.full_like(center, eps)
    sign = torch.where(center < 0, -torch.ones_like(center), torch.ones_like(center))
    return torch.where(center.abs() < bound, sign * bound, center)


@register("deep_svdd", family="deep", description="One-class Deep SVDD: bias-free network, fixed centre; score = squared distance to the centre.")
class DeepSVDDDetector(ImageScalingMixin, BaseDeepDetector):
    """One-class Deep SVDD (Ruff et al. 2018); score = squared distance of the embedding to the centre.

    Parameters
    ----------
    pretrain_epochs : int, default=10
        Epochs of bias-free autoencoder pretraining of the encoder (0: start from the random initialization).
    center_eps : float, default=0.1
        Centre coordinates closer to 0 than this are pushed to ``±center_eps``: in units of each embedding
        coordinate's standard deviation for tables (so the centre stays among the normal rows' embeddings; an
        absolute 0.1 inverted the ranking on simple data, see the module docstring), absolute for images.
    activation : str, default="leaky_relu"
    n_epochs : int, default=10
        Most epochs of the one-class phase (longer runs shrink the sphere onto the contaminating anomalies too).
    max_steps : int or None, default=250
        At most this many optimizer steps per phase (shuttle: AUROC 0.248 unlimited, 0.517 at 250; cover,
        60,000-row subsample: 0.654 and 0.843).
        The budget holds whatever ``n_epochs`` says; an ``n_epochs`` other than the default that the budget
        cuts short gives a ``UserWarning`` (how many epochs ran); ``max_steps=None`` runs every epoch.
    latent_size : int or None, default=None
        Width of the embedding. None: the autoencoder's width but at least 8 on tables (Deep SAD's width);
        **32 for images**, the representation
        size of Ruff et al. (MNIST one-class: mean AUROC 0.948 with 32, 0.915 with the autoencoder's 10;
        BENCHMARKS.md 3.3).
    hidden_sizes, dropout, n_epochs, batch_size, learning_rate, weight_decay,
    validation_fraction, patience, standardize, trim_fraction, adversarial, epsilon, adversarial_steps,
    device, n_threads, verbose, contamination, threshold, random_state
        As for :class:`~metaad.detectors.autoencoder.AutoEncoderDetector` (``dropout`` is not used: it would
        act as noise around the centre).

    Notes
    -----
    No ``explain`` of its own: the score is not a sum over features. Per-feature explanations come from
    :func:`metaad.evaluation.explain.explain`, which uses the model-agnostic rule for it (the score drop when a
    feature is set to its training mean).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = metaad.make_detector("deep_svdd", n_epochs=5, pretrain_epochs=2, random_state=0).fit(X)
    >>> det.center_.shape                      # tables embed in at least 8 dimensions
    (8,)
    >>> bool(det.decision_scores_.std() > 0)
    True
    """

    _extra_params: dict[str, Any] = {"pretrain_epochs": 10, "center_eps": 0.1, "activation": "leaky_relu", "n_epochs": 10, "max_steps": 250}
    _accepts_images = True
    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "pretrain_epochs": [Interval(Integral, 0, None)],
        "center_eps": [Interval(Real, 0, None, closed="neither")],
    }
    #: Embedding width for image inputs when ``latent_size`` is None (Ruff et al. use 32 on MNIST and CIFAR-10).
    IMAGE_LATENT_SIZE = 32
    #: Narrowest default embedding for tables (Deep SAD, Ruff et al. 2020, embed tables in 8 dimensions).
    MIN_TABLE_LATENT_SIZE = 8

    def _resolve_architecture(self, input_shape: tuple[int, ...]) -> dict[str, Any]:
        if self.latent_size is None and not is_image_shape(input_shape):
            from metaad.detectors.networks import default_hidden_sizes, default_latent_size

            n_features = int(np.prod(input_shape))
            latent = max(self.MIN_TABLE_LATENT_SIZE, default_latent_size(n_features))
            hidden = tuple(self.hidden_sizes) if self.hidden_sizes is not None else default_hidden_sizes(n_features, latent)
            return {"hidden_sizes": list(hidden), "latent_size": latent, "activation": self.activation, "dropout": float(self.dropout)}
        architecture = super()._resolve_architecture(input_shape)
        if self.latent_size is None:
            architecture["latent_size"] = self.IMAGE_LATENT_SIZE
        return architecture

    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        arch = self.architecture_
        return DeepSVDDNetwork(input_shape, arch["hidden_sizes"], arch["latent_size"], activation_name=arch["activation"])

    def _loss(self, network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        return network.distance(xb)

    def _score_batch(self, network: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        return network.distance(xb)

    @staticmethod
    def _reconstruction_loss(network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        return reconstruction_error(xb, network.decoder(network.encoder(xb)), reduction="mean")

    def _pretrain(self, trainer: Trainer, X: torch.Tensor, y: torch.Tensor | None) -> None:
        """Train the encoder-decoder on reconstruction for ``pretrain_epochs`` (the paper's autoencoder warm start)."""
        if self.pretrain_epochs > 0:
            pretrainer = copy.copy(trainer)
            pretrainer.n_epochs = int(self.pretrain_epochs)
            pretrainer.description = f"{trainer.description} (pretraining)"
            pretrainer.fit(self.network_, self._reconstruction_loss, X, y)

    def _train(self, trainer: Trainer, X: torch.Tensor, y: torch.Tensor | None) -> TrainingHistory:
        network = self.network_
        self._pretrain(trainer, X, y)
        network.eval()
        with torch.no_grad():
            chunk = max(trainer.batch_size, 4096)
            embeddings = torch.cat([network.encoder(X[i : i + chunk]) for i in range(0, X.shape[0], chunk)])
            relative = not is_image_shape(tuple(X.shape[1:]))
            network.center.copy_(fix_center(embeddings, float(self.center_eps), relative=relative))
        return trainer.fit(network, self._loss, X, y, parameters=list(network.encoder.parameters()))

    @property
    def center_(self) -> np.ndarray:
        """The fixed centre ``c`` of the hypersphere (in embedding space)."""
        self._check_fitted()
        return self.network_.center.detach().cpu().numpy()
