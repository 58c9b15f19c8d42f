"""Behaviour shared by some synthesizer families but not all: encoding rows into the latent
space (VAE, VAE-GAN) and early stopping on sample quality (GAN, VAE-GAN)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch

import genaug.distributed as gdist
from genaug._random import derive_seed, torch_generator
from genaug._validation import Interval, Options, Satisfies
from genaug.exceptions import InvalidDataError, InvalidParameterError
from genaug.synthesizers._checkpoint import score_from_json, score_to_json
from genaug.synthesizers.base import SAMPLE_CHUNK

EARLY_STOPPING_CONSTRAINTS: dict[str, list] = {
    "early_stopping": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
    "validation_fraction": [Interval(float, 0, 1, closed="neither")],
    "validation_every": [Interval(int, 1, None)],
    "patience": [Interval(int, 1, None)],
    "validation_metric": [Options(("auto", "detection", "utility"))],
}

# Rows of the held-out slice scored at each check (and as many synthetic rows): enough for a
# stable detection AUC, few enough that a check costs a small fraction of an epoch, and
# fewer than one sampling chunk so that the synthetic rows come from one forward pass.
MAX_VALIDATION_ROWS = min(5000, SAMPLE_CHUNK)


class LatentEncoderMixin:
    """Adds :meth:`encode` to a synthesizer with an encoder network.

    The family supplies ``_encode_stats(x, c) -> (mu, logvar)`` on encoded rows ``x`` and
    label one-hots ``c`` (``None`` without labels).
    """

    def encode(self, X: Any, y: Any = None) -> np.ndarray:
        """Latent means of the rows of ``X`` (embeddings for search, plots or interpolation).

        Parameters
        ----------
        X : DataFrame, array-like or images
            Rows with the training columns (unseen categories are encoded as all-zero spans),
            or images of the training form.
        y : array-like, optional
            Their labels; required when the synthesizer was fitted with labels.

        Returns
        -------
        ndarray of shape (n_rows, latent_dim)
        """
        self._check_is_fitted()
        if self._image_shape() is not None:
            encoded = torch.from_numpy(self.codec_.transform(X)).to(self.device_)
        else:
            encoded = torch.from_numpy(
                self.codec_.transform(X, handle_unknown="ignore", random_state=self.seed_)
            ).to(self.device_)
        c = None
        if self.classes_ is not None:
            if y is None:
                raise InvalidDataError(
                    "This synthesizer was fitted with labels; pass y to encode(X, y)."
                )
            y_arr = np.asarray(y).ravel()
            if y_arr.shape[0] != encoded.shape[0]:
                raise InvalidDataError(f"X has {encoded.shape[0]} rows but y has {y_arr.shape[0]}.")
            idx = torch.from_numpy(self._label_codes(y_arr))
            c = torch.nn.functional.one_hot(idx, self.cond_dim_).float().to(self.device_)
        self._set_train(False)
        with torch.no_grad():
            mu, _ = self._encode_stats(encoded, c)
        return mu.cpu().numpy()


class EarlyStoppingMixin:
    """Stop training on sample quality, keeping the best weights.

    With ``early_stopping=True``, a ``validation_fraction`` of the training rows is held out
    of training. Every ``validation_every`` epochs (and after the last one) the synthesizer
    draws rows and scores them against the held-out slice (at most ``MAX_VALIDATION_ROWS`` of
    it), in the encoded space, by ``validation_metric``; ``"auto"`` is ``"utility"`` on tables
    fitted with labels (when the held-out slice holds two classes or more) and
    ``"detection"`` otherwise, in families whose ``_AUTO_VALIDATION_METRIC`` is ``"utility"``
    (the GAN); in the others (the VAE-GAN) it is ``"detection"``:

    * ``"detection"``: as many rows as the slice has, scored with
      :func:`genaug.metrics.detection.detection_auc` (labels appended as one-hot columns):
      the AUC of a classifier telling real from synthetic, lower is better, 0.5 ideal.
      Recorded in ``history_["validation_detection_auc"]``.
    * ``"utility"`` (tables fitted with labels): ``MAX_VALIDATION_ROWS`` rows, the same
      number of each class, train a gradient-boosting classifier whose ROC-AUC on the
      held-out rows' labels is the score (:func:`genaug.metrics.utility.tstr_roc_auc`), higher
      is better. Recorded in ``history_["validation_utility_auc"]``. It watches what
      augmentation is for. Along 150-epoch GAN fits on Adult (two seeds,
      ``benchmarks/results/gan_epochs_validation.md``) it peaked with the TSTR on the test
      rows (epochs 50-70) and fell with it after epoch 100 (0.880 -> 0.842-0.853 and
      0.904 -> 0.863), while the detection AUC improved until epoch 70-90 and then held
      (0.74-0.77). The classifier has to be non-linear: a logistic regression on the same
      rows stayed flat (0.88-0.90) through the fall.

    Generated table rows are decoded and encoded again before they are scored, so that they
    are the rows a user gets (integers rounded, values clipped).

    The weights of the best check are kept; training stops after ``patience`` checks without
    improvement. ``history_["validation_epoch"]`` holds the checks' epochs and
    ``best_epoch_`` the epoch whose weights were kept.

    The family's ``_prepare_training`` and ``_finish_training``, if it has them, must call
    ``super()``.
    """

    def _prepare_training(
        self, data: torch.Tensor, cond: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        self.best_epoch_ = None
        self._validation = None
        if not self.early_stopping:
            return None
        metric = self._validation_metric()
        table_with_labels = cond is not None and self._image_shape() is None
        if metric == "utility" and not table_with_labels:
            raise InvalidParameterError(
                "validation_metric='utility' scores a classifier trained on synthetic rows "
                "against the held-out rows' labels, so it needs a table fitted with y; "
                + ("fit with y" if cond is None else "images are scored by detection")
                + ", or use validation_metric='detection'."
            )
        n = data.shape[0]
        n_val = round(self.validation_fraction * n)
        if n_val < 2 or n - n_val < 2:
            raise InvalidDataError(
                f"early_stopping with validation_fraction={self.validation_fraction} leaves "
                f"{n_val} held-out and {n - n_val} training rows out of {n}; both need at "
                "least 2. Use more rows, another validation_fraction, or early_stopping=False."
            )
        perm = torch.randperm(n, generator=generator, device=data.device)
        held, kept = perm[:n_val], perm[n_val:]
        # Images are scored as flat vectors of pixels.
        real = data[held[:MAX_VALIDATION_ROWS]].flatten(1)
        labels = None
        if metric != "detection" and table_with_labels:
            labels = cond[held[:MAX_VALIDATION_ROWS]].argmax(dim=1).cpu().numpy()
            one_class = np.unique(labels).size < 2
            if self.distributed and gdist.is_initialized():
                # One metric on every rank: a rank whose held-out rows hold one class makes
                # all of them fall back (or all raise), else their mean would mix two scores.
                ranks = gdist.mean_over_ranks({"one_class": float(one_class)}, self.device_)
                one_class = ranks["one_class"] > 0
            if one_class and metric == "auto":
                labels = None  # no ROC-AUC on one class: detection instead
            elif one_class:
                raise InvalidDataError(
                    f"early_stopping with validation_metric='utility' holds out {n_val} rows, "
                    "all of one class, so no ROC-AUC can be computed on them. Use a larger "
                    "validation_fraction or validation_metric='detection'."
                )
        if labels is None and cond is not None:
            real = torch.cat([real, cond[held[:MAX_VALIDATION_ROWS]]], dim=1)
        self._validation = {
            "real": real.cpu().numpy(),
            "labels": labels,
            "best_score": math.inf,
            "best_state": None,
            "bad_checks": 0,
            "checks": 0,
        }
        return data[kept], None if cond is None else cond[kept]

    # What validation_metric="auto" means for the family (see the class docstring).
    _AUTO_VALIDATION_METRIC = "utility"

    def _validation_metric(self) -> str:
        """The parameter, with ``"auto"`` narrowed to the family's choice (families without
        the parameter score by detection)."""
        metric = getattr(self, "validation_metric", "detection")
        if metric == "auto" and self._AUTO_VALIDATION_METRIC == "detection":
            return "detection"
        return metric

    def _validation_score(self) -> float:
        """The check's score, lower is better (1 - AUC for utility)."""
        state = self._validation
        seed = derive_seed(self.seed_, 5, state["checks"])
        generator = torch_generator(seed, self.device_)
        if state["labels"] is not None:
            return 1.0 - self._utility_auc(state, generator, seed)
        return self._detection_auc(state, generator, seed)

    def _validation_rows(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator, seed: int
    ) -> torch.Tensor:
        """``n <= SAMPLE_CHUNK`` encoded rows (flattened), from one forward pass."""
        c = None
        if labels is not None:
            c = torch.nn.functional.one_hot(labels, self.cond_dim_).float().to(self.device_)
        self._set_train(False)
        with torch.no_grad(), self._autocast():
            fake = self._generate(n, c, generator).flatten(1).float()
        self._set_train(True)
        if self._image_shape() is None:
            # Table rows are scored as a user gets them: decoded (integers rounded, values
            # clipped to the training range) and encoded again. The generator's raw values
            # are continuous where a real integer column takes a few values, and a detector
            # told them apart on that alone: the GAN's detection AUC on Adult was 1.000 at
            # every check, so the check chose its epoch by chance.
            decoded = self._decode_rows(fake.cpu().numpy())
            fake = torch.from_numpy(self.codec_.transform(decoded, random_state=seed % 2**32))
        return fake

    def _utility_auc(self, state: dict, generator: torch.Generator, seed: int) -> float:
        from genaug.metrics.utility import tstr_roc_auc

        # The same number of rows of every class, so that rare classes are learned too (a
        # ROC-AUC does not depend on the class balance of the training rows).
        k = len(self.classes_)
        labels = torch.arange(MAX_VALIDATION_ROWS) % k
        fake = self._validation_rows(MAX_VALIDATION_ROWS, labels, generator, seed)
        return tstr_roc_auc(
            fake.cpu().numpy(), labels.numpy(), state["real"], state["labels"], random_state=seed
        )

    def _detection_auc(self, state: dict, generator: torch.Generator, seed: int) -> float:
        from genaug.metrics.detection import detection_auc

        n = state["real"].shape[0]
        labels = self._chunk_labels(self._label_plan(n, None), 0, n, generator)
        fake = self._validation_rows(n, labels, generator, seed)
        if labels is not None:
            one_hot = torch.nn.functional.one_hot(labels, self.cond_dim_).float()
            fake = torch.cat([fake, one_hot.to(fake.device)], dim=1)
        return float(
            detection_auc(state["real"], fake.float().cpu().numpy(), n_splits=3, random_state=seed)
        )

    def _on_epoch_end(self, epoch: int, losses: dict[str, float]) -> bool:
        stop = super()._on_epoch_end(epoch, losses)
        state = self._validation
        if state is None or (epoch % self.validation_every and epoch != self.epochs):
            return stop
        # Under distributed training each rank scores against its own held-out rows; their
        # mean, the same on every rank, makes every rank keep the same best weights and stop
        # in the same epoch.
        score = self._over_ranks({"score": self._validation_score()})["score"]
        state["checks"] += 1
        self.history_.setdefault("validation_epoch", []).append(epoch)
        if state["labels"] is not None:
            self.history_.setdefault("validation_utility_auc", []).append(1.0 - score)
        else:
            self.history_.setdefault("validation_detection_auc", []).append(score)
        if score < state["best_score"]:
            state["best_score"] = score
            state["bad_checks"] = 0
            self.best_epoch_ = epoch
            state["best_state"] = {
                name: copy.deepcopy(module.state_dict()) for name, module in self._modules().items()
            }
        else:
            state["bad_checks"] += 1
        return stop or state["bad_checks"] >= self.patience

    def _finish_training(self) -> None:
        super()._finish_training()
        state = getattr(self, "_validation", None)
        if state is not None and state["best_state"] is not None:
            for name, module in self._modules().items():
                module.load_state_dict(state["best_state"][name])
        self._validation = None

    def _checkpoint_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        # The held-out rows are not saved: _prepare_training draws them again from the seed.
        plain, tensors = super()._checkpoint_state()
        state = self._validation
        if state is None:
            return plain, tensors
        plain["early_stopping"] = {
            "metric": "detection" if state["labels"] is None else "utility",
            "best_score": score_to_json(state["best_score"]),
            "bad_checks": state["bad_checks"],
            "checks": state["checks"],
            "best_epoch": self.best_epoch_,
            "has_best": state["best_state"] is not None,
        }
        if state["best_state"] is not None:
            for name, weights in state["best_state"].items():
                tensors.update({f"best.{name}.{k}": v for k, v in weights.items()})
        return plain, tensors

    def _load_checkpoint_state(
        self, state: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> None:
        super()._load_checkpoint_state(state, tensors)
        saved = state.get("early_stopping")
        if (saved is None) != (self._validation is None):
            raise ValueError("the checkpoint's early_stopping does not match this fit")
        if saved is None:
            return
        mine = "detection" if self._validation["labels"] is None else "utility"
        # Checkpoints written before validation_metric existed scored by detection.
        if saved.get("metric", "detection") != mine:
            raise ValueError(
                f"the checkpoint's early stopping scored by {saved.get('metric', 'detection')}, "
                f"this fit scores by {mine} (validation_metric)"
            )
        best_state = None
        if saved["has_best"]:
            best_state = {}
            for name in self._module_names:
                prefix = f"best.{name}."
                best_state[name] = {
                    k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)
                }
                if not best_state[name]:
                    raise ValueError(f"the best weights of {name} are missing")
        self._validation.update(
            best_score=score_from_json(saved["best_score"]),
            bad_checks=int(saved["bad_checks"]),
            checks=int(saved["checks"]),
            best_state=best_state,
        )
        self.best_epoch_ = None if saved["best_epoch"] is None else int(saved["best_epoch"])

    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "best_epoch": self.best_epoch_}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        best = state["best_epoch"]
        self.best_epoch_ = None if best is None else int(best)
