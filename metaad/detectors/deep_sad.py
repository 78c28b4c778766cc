"""Deep SAD (Ruff et al., ICLR 2020): Deep SVDD that also pushes a few known anomalies away from the centre.

``fit(X, y)`` takes ``y`` with 1 for the few known anomalies and 0 for every other row (unlabeled). The network,
centre and pretraining are Deep SVDD's (:mod:`metaad.detectors.deep_svdd`: bias-free, fixed centre, bias-free
autoencoder pretraining); the loss adds the paper's inverse-distance term for labelled anomalies::

    loss(x) = ||φ(x) - c||²                   for an unlabeled row
    loss(x) = eta / (||φ(x) - c||² + 1e-6)     for a labelled anomaly

so unlabeled rows are pulled towards the centre and labelled anomalies pushed away from it. Two choices of
ours where the paper is silent or does not fit a handful of labels:

* the centre is the mean embedding of the **unlabeled** rows only (the known anomalies would drag it out);
* every batch carries ``labelled_per_batch`` labelled anomalies drawn with replacement (with five labels among
  35,000 rows, uniform batches would hold one once every 28 batches of 256 and the term would hardly act).

Without any labelled anomaly (``y`` None or all 0) it is exactly one-class Deep SVDD, as in the paper.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from metaad.detectors.deep_svdd import DeepSVDDDetector, fix_center
from metaad.detectors.image_networks import is_image_shape
from metaad.detectors.registry import register
from metaad.detectors.trainer import Trainer, TrainingHistory
from metaad.exceptions import ParameterError

#: Added to the squared distance in the inverse term, as the paper's code does (eps = 1e-6).
INVERSE_EPS = 1e-6


def deep_sad_loss(distances: torch.Tensor, labels: torch.Tensor, eta: float) -> torch.Tensor:
    """Per-row Deep SAD loss from squared distances to the centre and 0/1 labels (1 = known anomaly).

    Examples
    --------
    >>> [round(v, 4) for v in deep_sad_loss(torch.tensor([4.0, 4.0]), torch.tensor([0.0, 1.0]), eta=2.0).tolist()]
    [4.0, 0.5]
    """
    inverse = eta / (distances + INVERSE_EPS)
    return torch.where(labels > 0.5, inverse, distances)


@register("deep_sad", family="deep",
          description="Deep SAD (semi-supervised): Deep SVDD that pushes a few labelled anomalies away from the centre.")
class DeepSADDetector(DeepSVDDDetector):
    """Deep SAD (Ruff et al. 2020); score = squared distance of the embedding to the centre.

    Parameters
    ----------
    eta : float, default=1.0
        Weight of the labelled anomalies' inverse-distance term (the paper's eta; 1 in its experiments).
    labelled_per_batch : int, default=16
        Labelled anomalies drawn (with replacement) into every training batch.
    pretrain_epochs, center_eps, activation, n_epochs, max_steps, latent_size, hidden_sizes, dropout, batch_size,
    learning_rate, weight_decay, validation_fraction, patience, standardize, adversarial, epsilon,
    adversarial_steps, device, n_threads, verbose, contamination, threshold, random_state
        As for :class:`~metaad.detectors.deep_svdd.DeepSVDDDetector` (no loss trimming: labels are used).

    Examples
    --------
    >>> import numpy as np, metaad
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(4, 1, size=(10, 4))])
    >>> y = np.zeros(310, dtype=int); y[300:305] = 1          # 5 of the 10 anomalies are labelled
    >>> det = metaad.make_detector("deep_sad", n_epochs=5, pretrain_epochs=2, random_state=0).fit(X, y)
    >>> bool(det.decision_function(X[305:]).mean() > det.decision_function(X[:300]).mean())
    True
    """

    _extra_params: dict[str, Any] = {**DeepSVDDDetector._extra_params, "eta": 1.0, "labelled_per_batch": 16}
    _accepts_images = False
    _uses_labels = True

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.eta, bool) or not isinstance(self.eta, (int, float)) or self.eta <= 0:
            raise ParameterError(f"deep_sad: eta must be > 0, got {self.eta!r}")
        n = self.labelled_per_batch
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ParameterError(f"deep_sad: labelled_per_batch must be a positive integer, got {n!r}")

    def _loss(self, network: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
        distances = network.distance(xb)
        if yb is None:
            return distances
        return deep_sad_loss(distances, yb, float(self.eta))

    def _train(self, trainer: Trainer, X: torch.Tensor, y: torch.Tensor | None) -> TrainingHistory:
        network = self.network_
        labels = torch.zeros(X.shape[0]) if y is None else y.detach().cpu()
        self._pretrain(trainer, X, y)
        network.eval()
        unlabeled_rows = torch.nonzero(labels == 0).squeeze(1).to(X.device)
        with torch.no_grad():
            chunk = max(trainer.batch_size, 4096)
            pool = X[unlabeled_rows]
            embeddings = torch.cat([network.encoder(pool[i : i + chunk]) for i in range(0, pool.shape[0], chunk)])
            relative = not is_image_shape(tuple(X.shape[1:]))
            network.center.copy_(fix_center(embeddings, float(self.center_eps), relative=relative))
        parameters = list(network.encoder.parameters())
        all_anomalies = torch.nonzero(labels == 1).squeeze(1)
        if len(all_anomalies) == 0:  # no labels: one-class Deep SVDD
            return trainer.fit(network, self._loss, X, y, parameters=parameters)
        batch_size, extra = trainer.batch_size, int(self.labelled_per_batch)

        def batches_with_anomalies(train_index: torch.Tensor) -> list[torch.Tensor]:
            anomalies = train_index[labels[train_index] == 1]
            if len(anomalies) == 0:  # every labelled anomaly fell into the validation part
                anomalies = all_anomalies
            unlabeled = train_index[labels[train_index] == 0]
            order = unlabeled[torch.randperm(len(unlabeled), generator=trainer.generator)]
            out = []
            for start in range(0, len(order), batch_size):
                drawn = anomalies[torch.randint(len(anomalies), (extra,), generator=trainer.generator)]
                out.append(torch.cat([order[start : start + batch_size], drawn]))
            return out

        return trainer.fit(network, self._loss, X, y, parameters=parameters, batch_sampler=batches_with_anomalies)


__all__ = ["DeepSADDetector", "deep_sad_loss"]
