"""A GAN detector: a Wasserstein GAN with gradient penalty and an f-AnoGAN encoder (Schlegl et al. 2019).

Training has two phases, both run by the one :class:`~metaad.detectors.trainer.Trainer` (after an optional
warm start that trains ``G(E(x))`` as an autoencoder, ``pretrain_epochs``; on by default for images):

1. **WGAN-GP** (Gulrajani et al. 2017) on the unlabeled data: a ``step_fn`` alternates ``n_critic`` critic
   updates with one generator update; the game has no loss to stop early on, so all ``n_epochs`` run.
2. **Encoder (izif)**: with the generator and critic frozen, an encoder ``E`` learns to minimize
   ``||x - G(E(x))||² + κ ||f(x) - f(G(E(x)))||²`` where ``f`` are the critic's last hidden features
   (early stopping on a validation split as usual).

The anomaly score is that same izif residual (``score_type="izif"``) or the negated critic output alone
(``score_type="critic"``: the critic rates real-looking data high).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from metaad._constraints import Integral, Interval, Options, Real
from metaad.detectors.deep import BaseDeepDetector
from metaad.detectors.image_networks import ConvDecoder, ConvEncoder, ImageScalingMixin, is_image_shape
from metaad.detectors.networks import mlp
from metaad.detectors.registry import register
from metaad.detectors.trainer import Trainer, TrainingHistory
from metaad.scores.critic import critic_score
from metaad.scores.reconstruction import reconstruction_error

SCORES = ("izif", "critic")
#: Autoencoder warm-start epochs of G∘E for image inputs when ``pretrain_epochs`` is None (MNIST one-class: the
#: izif score's mean AUROC went from 0.312 without it to 0.896 with it; BENCHMARKS.md 3.3).
IMAGE_PRETRAIN_EPOCHS = 10


class Critic(nn.Module):
    """Critic ``D(x) = head(f(x))``; ``f`` (the features) is used by the encoder's loss and the score."""

    def __init__(self, input_shape: Sequence[int], hidden_sizes: Sequence[int], n_features_out: int) -> None:
        super().__init__()
        if is_image_shape(input_shape):
            self.features: nn.Module = nn.Sequential(ConvEncoder(input_shape, n_features_out), nn.LeakyReLU(0.2))
        else:
            n_in = int(np.prod(input_shape))
            self.features = mlp([n_in, *hidden_sizes, n_features_out], activation_name="leaky_relu", final_activation=True)
        self.head = nn.Linear(n_features_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class WGANNetwork(nn.Module):
    """Generator ``G: z -> x``, critic ``D`` and encoder ``E: x -> z`` (MLPs, or convolutions for images).

    Examples
    --------
    >>> net = WGANNetwork((6,), (16, 8), 3)
    >>> net.generator(torch.zeros(2, 3)).shape, net.critic(torch.zeros(2, 6)).shape, net.encoder(torch.zeros(2, 6)).shape
    (torch.Size([2, 6]), torch.Size([2]), torch.Size([2, 3]))
    """

    def __init__(self, input_shape: Sequence[int], hidden_sizes: Sequence[int], latent_size: int, *, activation_name: str = "relu") -> None:
        super().__init__()
        self.latent_size = int(latent_size)
        critic_features = int(hidden_sizes[-1]) if len(hidden_sizes) else 16
        if is_image_shape(input_shape):
            self.generator: nn.Module = ConvDecoder(input_shape, latent_size)
            self.encoder: nn.Module = ConvEncoder(input_shape, latent_size)
            self.critic = Critic(input_shape, hidden_sizes, 64)
        else:
            n_features = int(input_shape[0])
            self.generator = mlp([latent_size, *reversed(hidden_sizes), n_features], activation_name=activation_name)
            self.encoder = mlp([n_features, *hidden_sizes, latent_size], activation_name=activation_name)
            self.critic = Critic(input_shape, tuple(hidden_sizes[:-1]), critic_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``G(E(x))``."""
        return self.generator(self.encoder(x))

    def izif_residual(self, x: torch.Tensor, kappa: float) -> torch.Tensor:
        """``mean((x - G(E(x)))²) + κ mean((f(x) - f(G(E(x))))²)`` per row."""
        reconstruction = self.generator(self.encoder(x))
        image_term = reconstruction_error(x, reconstruction, reduction="mean")
        feature_term = reconstruction_error(self.critic.features(x), self.critic.features(reconstruction), reduction="mean")
        return image_term + kappa * feature_term


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty ``mean((||∇D(x̂)|| - 1)²)`` on random interpolates of real and generated rows."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


@register("wgan", family="deep", description="WGAN-GP with an f-AnoGAN (izif) encoder; score = reconstruction through G(E(x)) plus critic-feature residual.")
class WGANDetector(ImageScalingMixin, BaseDeepDetector):
    """GAN anomaly detector: WGAN-GP trained on unlabeled data, then an f-AnoGAN izif encoder.

    Parameters
    ----------
    score_type : {"izif", "critic"}, default="izif"
        "izif": ``mean((x - G(E(x)))²) + kappa × mean((f(x) - f(G(E(x))))²)``; "critic": ``-D(x)``. (Called
        ``score`` in metaad 0.1.0, where it shadowed scikit-learn's ``score`` method. Model files saved with ``score``
        still load.)
    kappa : float, default=1.0
        Weight of the critic-feature residual in the encoder loss and the izif score.
    n_critic : int, default=5
        Critic updates per generator update.
    gradient_penalty_weight : float, default=10.0
    encoder_epochs : int or None, default=None
        Most epochs of the encoder phase (None: ``n_epochs``).
    pretrain_epochs : int or None, default=None
        Epochs of a warm start before the GAN phase: generator and encoder trained together as an autoencoder
        ``G(E(x)) ≈ x``. None: 10 for images (without it, the few generator steps a CPU affords leave the
        izif score inverted on MNIST), 0 for tables.
    n_epochs : int, default=20
        Epochs of the GAN phase (all run: there is no early stopping in an adversarial game).
    hidden_sizes, latent_size, activation, n_epochs, batch_size, learning_rate, weight_decay,
    validation_fraction, patience, standardize, trim_fraction, adversarial, epsilon, adversarial_steps,
    device, n_threads, verbose, contamination, threshold, random_state
        As for :class:`~metaad.detectors.autoencoder.AutoEncoderDetector`; ``trim_fraction`` applies to
        the encoder phase, ``adversarial`` to both.

    Examples
    --------
    >>> import numpy as np, metaad
    >>> X = np.random.RandomState(0).normal(size=(300, 4))
    >>> det = metaad.make_detector("wgan", n_epochs=3, encoder_epochs=3, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)
    >>> len(det.gan_history_.train_loss), len(det.history_.train_loss)
    (3, 3)
    """

    _extra_params: dict[str, Any] = {
        "score_type": "izif",
        "kappa": 1.0,
        "n_critic": 5,
        "gradient_penalty_weight": 10.0,
        "encoder_epochs": None,
        "pretrain_epochs": None,
        "learning_rate": 2e-4,
    }
    _accepts_images = True
    _supports_partial_fit = False  # its step is a GAN game with several optimizers (deep.py partial_fit)
    _renamed_params = {"score": "score_type"}  # `score` shadowed scikit-learn's score() method
    _parameter_constraints = {
        **BaseDeepDetector._parameter_constraints,
        "score_type": [Options(*SCORES)],
        "kappa": [Interval(Real, 0, None, closed="left")],
        "n_critic": [Interval(Integral, 1, None)],
        "gradient_penalty_weight": [Interval(Real, 0, None, closed="left")],
        "encoder_epochs": [None, Interval(Integral, 1, None)],
        "pretrain_epochs": [None, Interval(Integral, 0, None)],
    }

    def _build_network(self, input_shape: tuple[int, ...]) -> nn.Module:
        arch = self.architecture_
        return WGANNetwork(input_shape, arch["hidden_sizes"], arch["latent_size"], activation_name=arch["activation"])

    def _loss(self, network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        return network.izif_residual(xb, float(self.kappa))

    def _score_batch(self, network: nn.Module, xb: torch.Tensor) -> torch.Tensor:
        if self.score_type == "critic":
            return critic_score(network.critic, xb)
        return network.izif_residual(xb, float(self.kappa))

    @staticmethod
    def _reconstruction_loss(network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        return reconstruction_error(xb, network(xb), reduction="mean")

    def _train(self, trainer: Trainer, X: torch.Tensor, y: torch.Tensor | None) -> TrainingHistory:
        network: WGANNetwork = self.network_
        pretrain_epochs = self.pretrain_epochs
        if pretrain_epochs is None:
            pretrain_epochs = IMAGE_PRETRAIN_EPOCHS if is_image_shape(tuple(X.shape[1:])) else 0
        if pretrain_epochs > 0:  # warm start: G∘E trained as an autoencoder
            pretrainer = copy.copy(trainer)
            pretrainer.n_epochs = int(pretrain_epochs)
            pretrainer.description = f"{trainer.description} (pretraining)"
            pretrainer.fit(network, self._reconstruction_loss, X, y,
                           parameters=[*network.encoder.parameters(), *network.generator.parameters()])
        betas = (0.5, 0.9)
        lr = float(self.learning_rate)
        opt_critic = torch.optim.Adam(network.critic.parameters(), lr=lr, betas=betas)
        opt_generator = torch.optim.Adam(network.generator.parameters(), lr=lr, betas=betas)
        n_critic, gp_weight, steps = int(self.n_critic), float(self.gradient_penalty_weight), [0]

        def gan_step(xb: torch.Tensor, yb: torch.Tensor | None) -> float:
            z = torch.randn(xb.shape[0], network.latent_size, device=xb.device)
            fake = network.generator(z).detach()
            critic_loss = network.critic(fake).mean() - network.critic(xb).mean()
            penalty = gradient_penalty(network.critic, xb, fake)
            opt_critic.zero_grad(set_to_none=True)
            (critic_loss + gp_weight * penalty).backward()
            opt_critic.step()
            steps[0] += 1
            if steps[0] % n_critic == 0:
                z = torch.randn(xb.shape[0], network.latent_size, device=xb.device)
                generator_loss = -network.critic(network.generator(z)).mean()
                opt_generator.zero_grad(set_to_none=True)
                generator_loss.backward()
                opt_generator.step()
            return float(critic_loss.detach())

        def wasserstein_gap(module: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
            z = torch.randn(xb.shape[0], network.latent_size, device=xb.device)
            return module.critic(module.generator(z)) - module.critic(xb)

        gan_trainer = copy.copy(trainer)
        gan_trainer.early_stopping = False
        gan_trainer.trim_fraction = 0.0
        gan_trainer.description = f"{trainer.description} (GAN)"
        self.gan_history_ = gan_trainer.fit(network, wasserstein_gap, X, y, step_fn=gan_step)

        frozen = [*network.generator.parameters(), *network.critic.parameters()]
        for p in frozen:
            p.requires_grad_(False)
        try:
            encoder_trainer = copy.copy(trainer)
            if self.encoder_epochs is not None:
                encoder_trainer.n_epochs = int(self.encoder_epochs)
            encoder_trainer.description = f"{trainer.description} (encoder)"
            return encoder_trainer.fit(network, self._loss, X, y, parameters=list(network.encoder.parameters()))
        finally:
            for p in frozen:
                p.requires_grad_(True)

    def explain(self, X: Any) -> np.ndarray:
        """Per-feature contributions to each row's score: the squared residual ``(x - G(E(x)))²`` divided by the
        number of features.

        A row's contributions sum to the reconstruction part of the izif score; its critic-feature part
        (``kappa`` × the residual in the critic's features) mixes all inputs and is left out. With
        ``score_type="critic"`` they still show which features ``G(E(x))`` fails to reproduce.

        Returns
        -------
        numpy.ndarray of shape (n_rows, n_features)
            Images are flattened: one column per pixel (and channel).

        Examples
        --------
        >>> import numpy as np, metaad
        >>> X = np.random.RandomState(0).normal(size=(300, 4))
        >>> det = metaad.make_detector("wgan", n_epochs=2, encoder_epochs=2, random_state=0, kappa=0.0).fit(X)
        >>> np.allclose(det.explain(X[:3]).sum(axis=1), det.decision_function(X[:3]), rtol=1e-5)
        True
        """
        return self._reconstruction_contributions(X)

    def critic_scores(self, X: Any) -> np.ndarray:
        """``-D(x)`` for each row of ``X`` (higher = less like the training data), whatever ``score_type`` is."""
        X_tensor = self._to_tensor(X)
        with torch.no_grad():
            return critic_score(self.network_.critic, X_tensor).double().cpu().numpy()
