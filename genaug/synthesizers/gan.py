"""The conditional GAN synthesizer for tables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

import genaug.distributed as gdist
from genaug._validation import Interval, Options, Satisfies, is_int_tuple
from genaug.exceptions import InvalidParameterError, ModelFileError
from genaug.models.gan import (
    ADVERSARIAL_LOSSES,
    condition_cross_entropy,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
)
from genaug.nn.average import WeightAverage
from genaug.nn.conv import ConvCritic, ConvDecoder, ConvEncoder, join_inputs
from genaug.nn.critic import Critic
from genaug.nn.mlp import MLP, ResidualMLP
from genaug.nn.optim import adam
from genaug.nn.spans import SpanLayout
from genaug.synthesizers._mixins import EARLY_STOPPING_CONSTRAINTS, EarlyStoppingMixin
from genaug.synthesizers.base import BaseSynthesizer

# Gumbel-softmax temperature of the categorical heads in training (CTGAN's value): low enough
# that generated spans are nearly one-hot, like the real rows the critic compares them with.
GUMBEL_TAU = 0.2
_ADAM_BETAS = (0.5, 0.9)
# The auxiliary classifier's L2 penalty on tables (``classifier_weight_decay=None``); chosen on
# Adult, see the class's Notes.
TABLE_CLASSIFIER_WEIGHT_DECAY = 1e-2
# The decay of the generator's weight average on tables (``generator_ema=None``); see Notes.
TABLE_GENERATOR_EMA = 0.999


def activate_rows(
    layout: SpanLayout | None,
    raw: torch.Tensor,
    generator: torch.Generator,
    *,
    hard: bool,
    bounded: bool,
    compact: bool = False,
) -> torch.Tensor:
    """Turn a generator's raw output into rows of the codec's space.

    Categorical spans become one-hot draws from their softmax (``hard``, for sampling) or a
    Gumbel-softmax relaxation at temperature ``GUMBEL_TAU`` (training, so that gradients flow);
    continuous values pass through ``tanh`` when ``bounded`` (mode-specific normalisation
    keeps them in (-1, 1)) and unchanged otherwise (quantile-normal values are unbounded).
    Images (``layout`` is ``None``) pass unchanged: the convolutional generator ends in tanh.
    When sampling (``hard`` without autograd) ``raw``'s continuous columns are overwritten
    in place (callers pass the network's fresh output); otherwise ``raw`` is left alone.
    With ``compact`` (and ``hard``) the rows come back with one column per span
    (:meth:`SpanLayout.sample_compact`) instead of one-hot.
    """
    if layout is None:
        return raw
    idx = layout.continuous_index
    if bounded and idx.numel():
        if not hard or torch.is_grad_enabled():
            raw = raw.clone()
        raw[:, idx] = torch.tanh(raw[:, idx])
    if hard:
        if compact:
            return layout.sample_compact(raw, generator)
        return layout.sample_one_hot(raw, generator)
    return layout.gumbel_softmax(raw, GUMBEL_TAU, generator)


def optimizer_step(
    optimizer: torch.optim.Optimizer, loss: torch.Tensor, retain_graph: bool = False
) -> None:
    """One step of ``optimizer`` on the gradient of ``loss`` with respect to its own parameters.

    Only those gradients are computed (not those of the other networks ``loss`` went through),
    and the other networks' ``.grad`` are left alone. They are accumulated into ``.grad`` by
    ``backward(inputs=...)`` rather than returned by ``torch.autograd.grad``, because
    DistributedDataParallel averages gradients over the ranks only as they are accumulated.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for p in params:
        p.grad = None
    loss.backward(inputs=params, retain_graph=retain_graph)
    optimizer.step()


def _py(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class GANSynthesizer(EarlyStoppingMixin, BaseSynthesizer):
    """Tabular synthesizer trained as a conditional GAN with training-by-sampling.

    A residual generator maps noise, the class label and a *conditional vector* to a row in
    the codec's space (Gumbel-softmax heads for the categorical spans, the codec's continuous
    encoding for numbers); a critic scores rows (or PacGAN packs of rows) against real ones
    with the WGAN-GP objective.

    The conditional vector names one value of one categorical column. In training it is
    drawn as in CTGAN (Xu et al., 2019, "Modeling Tabular Data using Conditional GAN"): a
    column uniformly, then one of its values with probability proportional to the log of its
    frequency, so rare values are seen far more often than their share; the real rows the
    critic sees are drawn among those holding that value, and a cross-entropy term makes the
    generator produce it. Sampling draws the vector from the values' real frequencies, or
    from ``conditions``: ``sample(n, conditions={"country": "NL"})`` conditions every row on
    that value and sets it, so it returns exactly ``n`` rows holding it, in one pass, even for
    a value seen once. Class labels ``y`` are conditioned on the same way as in every genaug
    synthesizer (exact counts, no rejection).

    On images (see :meth:`fit`) the generator and the critic are DCGAN-like convolutional
    networks (:mod:`genaug.nn.conv`) trained with the same objective (WGAN-GP by default); the
    label enters the generator as input columns and the critic as one-hot planes, and the
    auxiliary classifier is convolutional too. There is no conditional vector.

    Parameters
    ----------
    epochs : int, default=300
        Passes over the training data (each of ``n_rows // batch_size`` steps, and at least
        10: see ``batch_size``).
    batch_size : int, default=500
        Rows per step; a multiple of ``pac``. Tables of fewer than ``10 * batch_size`` rows
        use ``ceil(n_rows / 10)`` so that every epoch has at least 10 steps.
    learning_rate : float, default=2e-4
        Adam's step size, for the generator and the critic.
    weight_decay : float, default=1e-6
        Adam's L2 penalty.
    latent_dim : int, default=128
        Width of the generator's noise input.
    generator_hidden : tuple of int, default=(256, 256)
        Widths of the generator's residual blocks. On images, the largest value is the
        channel count of the deepest convolutional stage (each shallower stage has half).
    discriminator_hidden : tuple of int, default=(128, 128)
        Widths of the critic's hidden layers, and of the auxiliary classifier's (on images, as
        for ``generator_hidden``).
    discriminator_steps : int, default=1
        Critic updates per generator update.
    pac : int, default=1
        PacGAN packing: the critic scores packs of ``pac`` rows (CTGAN uses 10, against mode
        collapse).
    adversarial_loss : {"wgan-gp", "standard"}, default="wgan-gp"
        The objective (see :mod:`genaug.models.gan`).
    gradient_penalty : float, default=10.0
        Weight of the gradient penalty (``"wgan-gp"`` only).
    discriminator_dropout : float, default=0.0
        Dropout rate in the critic's hidden layers (CTGAN uses 0.5); masks come from the
        synthesizer's own generator.
    auxiliary_classifier : bool, default=True
        With labels ``y``: also train a classifier of the label on real rows and add its
        cross-entropy on generated rows to the generator's loss, rewarding rows whose label
        is recognisable (as in Engelmann & Lessmann, 2021). Ignored when fitted without
        labels.
    classifier_weight_decay : float or None, default=None
        Adam's L2 penalty for the auxiliary classifier (the generator and critic use
        ``weight_decay``). ``None``: 1e-2 on tables, ``weight_decay`` on images. On tables a
        weakly penalised classifier overfits the training rows after some 40 epochs on Adult,
        and the generator, rewarded for rows the classifier labels confidently, follows it:
        TSTR then falls with more epochs (see Notes). The image default was not re-measured
        and stays that of the other networks.
    generator_ema : float or None, default=None
        Decay of an exponential moving average of the generator's weights, which sampling
        uses instead of the last step's weights (see :class:`genaug.nn.WeightAverage`); 0
        turns it off. ``None``: 0.999 on tables, off on images. On Adult it delayed the fall of
        TSTR with more epochs (see Notes); on images it was not measured.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score samples against them every
        ``validation_every`` epochs by ``validation_metric``, keep the best weights and stop
        after ``patience`` checks without improvement.
    validation_fraction : float, default=0.1
        Share of the rows held out of training when ``early_stopping``.
    validation_every : int, default=5
        Epochs between two checks.
    patience : int, default=5
        Checks without improvement before training stops.
    validation_metric : {"auto", "detection", "utility"}, default="auto"
        The score of a check: ``"detection"``, how well a classifier tells generated rows
        from the held-out ones (lower is better); ``"utility"`` (tables fitted with ``y``), the
        ROC-AUC on the held-out rows' labels of a classifier trained on generated rows
        (higher is better); ``"auto"``, utility where it applies, else detection. See
        :class:`~genaug.synthesizers._mixins.EarlyStoppingMixin`.
    {{common_parameters}}
    Attributes
    ----------
    generator_, discriminator_ : torch.nn.Module
        The trained networks.
    classifier_ : torch.nn.Module
        Only with ``auxiliary_classifier`` and labels.
    generator_ema_ : genaug.nn.WeightAverage
        The averaged generator that sampling runs (only when ``generator_ema`` is on).
    best_epoch_ : int or None
        With ``early_stopping``, the epoch whose weights were kept.
    history_ : dict of lists
        Per-epoch means of the ``"generator"``, ``"discriminator"``, ``"gradient_penalty"``,
        ``"conditional"`` (and ``"classifier"``) losses; with ``early_stopping`` also
        ``"validation_epoch"`` and ``"validation_detection_auc"`` (or
        ``"validation_utility_auc"``).
    See :class:`~genaug.synthesizers.base.BaseSynthesizer` for the attributes every
    synthesizer has (``codec_``, ``classes_``...).

    Notes
    -----
    The defaults were chosen on Adult with ``benchmarks/tabular_models.py`` (25 epochs, two
    seeds, TSTR with gradient boosting on the real held-out rows, detection AUC against them):
    a critic without packing or dropout cut the detection AUC from 0.98 to 0.85 at the same
    TSTR; the auxiliary classifier raised TSTR macro-F1 from 0.73 to 0.76 and ROC-AUC from
    0.86 to 0.89; with that critic, WGAN-GP beat the non-saturating objective (macro-F1 0.78
    against 0.75, detection AUC 0.86 against 0.89) for about 20% more time per step. A critic
    (and classifier) of width 128 instead of CTGAN's 256 gave the same quality (macro-F1 0.785
    against 0.781, ROC-AUC 0.896 against 0.891, detection AUC 0.860 against 0.852, each within
    the spread of two seeds) in 0.6 of the fit time; halving the generator as well lowered
    TSTR (macro-F1 0.776, ROC-AUC 0.882) and raised detection (0.876), so it stays at 256.
    Each step runs the generator once: the fake rows of the last critic update, detached
    there, are the ones the generator update then scores against the updated critic (as in
    common DCGAN training loops). Against a fresh generator pass for the generator update, this
    kept the quality (macro-F1 0.783 against 0.784, ROC-AUC 0.894 against 0.894, detection AUC
    0.876 against 0.872; ``benchmarks/results/ablation_gan_one_pass.md`` and
    ``ablation_gan_two_passes.md``) and cut an epoch's time by about a fifth. A 64-wide noise
    instead of CTGAN's 128 (a fifth fewer products when sampling, half the Gaussian draws) was
    measured and not adopted: as good at 30 epochs (macro-F1 0.781 against 0.782, three seeds,
    ``benchmarks/results/ablation_gan_latent.md``) but worse at 75 (0.770 ± 0.006 against
    0.783 ± 0.005, ROC-AUC 0.874 against 0.892, two seeds, ``ablation_gan_latent_75.md``), with
    a lower recall on held-out rows (0.767 against 0.787, ``latent_probe.md``).

    Longer fits used to lose TSTR: with the auxiliary classifier penalised like the other
    networks (``weight_decay=1e-6``) and sampling from the last step's weights, macro-F1 fell
    from 0.78 at 25 epochs to 0.76 at 74 (ROC-AUC 0.89 to 0.86) while the detection AUC kept
    improving. Two causes were found. The classifier overfits the training rows (its training
    loss kept falling, from 0.25 at epoch 16 to 0.20 at epoch 76), and the generator,
    rewarded for rows it labels confidently, follows it: ``classifier_weight_decay=1e-2``
    keeps its loss near 0.27 and gave, at 74 epochs, macro-F1 0.776 against 0.756 and ROC-AUC
    0.891 against 0.856 (``benchmarks/results/ablation_gan_classifier_decay_74.md``). The
    generator's weights also keep drifting late in training; sampling from their moving
    average (``generator_ema``) then gave macro-F1 0.786 against 0.776, ROC-AUC 0.894 against 0.891
    and detection AUC 0.782 against 0.788 (``ablation_gan_ema_74.md``), and at 25 epochs the
    same quality as without it (0.785 / 0.898 against 0.783 / 0.893,
    ``ablation_gan_ema_25.md``). Both on two seeds. The average's update is one pass over the
    generator's weights per step: a 3-epoch Adult fit took 2.84 s against 2.77 s without it
    (medians of three alternating runs, within their spread).

    These delay the decline rather than end it. Along one 300-epoch fit on Adult
    (``python benchmarks/gan_epochs.py --epochs 300 --every 25 --seeds 0,1 --threads 2``, 45
    steps per epoch) TSTR macro-F1 stayed at 0.78-0.79 (ROC-AUC 0.89-0.90) up to epoch 75,
    dipped to 0.74-0.76 (0.85-0.87) between epochs 100 and 225, and was back to 0.77-0.78
    (0.87-0.89) at 300. A linear decay of the learning rate to zero did not help (an ad-hoc
    300-epoch probe, two seeds). On a table of Adult's size, 50-75 epochs (2,000-3,500 steps)
    are enough and best; on a small table, where an epoch has as few as 10 steps, the default
    300 epochs are about 3,000 steps. ``early_stopping=True`` finds that point on its own:
    with the utility check (the default on labelled tables) it stopped at 80-95 epochs and
    kept epochs 55-70, for macro-F1 0.787 ± 0.003 and ROC-AUC 0.898 ± 0.002 in 56 s, against
    0.773 / 0.880 after 300 epochs in 181 s and 0.772 / 0.876 with the detection check (three
    seeds, ``benchmarks/results/early_stopping_300.md``).

    Examples
    --------
    >>> from genaug import GANSynthesizer
    >>> from genaug.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> syn = GANSynthesizer(epochs=2, random_state=0).fit(X[:2000], y[:2000])
    >>> X_new, y_new = syn.sample(10, y=">50K", conditions={"sex": "Female"})
    >>> X_new["sex"].unique().tolist(), y_new.unique().tolist()
    (['Female'], ['>50K'])
    """

    _compact_rows = True

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **EARLY_STOPPING_CONSTRAINTS,
        "weight_decay": [Interval(float, 0, None)],
        "latent_dim": [Interval(int, 1, None)],
        "generator_hidden": [Satisfies(is_int_tuple, "a tuple of positive ints")],
        "discriminator_hidden": [Satisfies(is_int_tuple, "a tuple of positive ints")],
        "discriminator_steps": [Interval(int, 1, None)],
        "pac": [Interval(int, 1, None)],
        "adversarial_loss": [Options(ADVERSARIAL_LOSSES)],
        "gradient_penalty": [Interval(float, 0, None)],
        "discriminator_dropout": [Interval(float, 0, 1, closed="left")],
        "auxiliary_classifier": [Satisfies(lambda v: isinstance(v, (bool, np.bool_)), "a bool")],
        "classifier_weight_decay": [Interval(float, 0, None), None],
        "generator_ema": [Interval(float, 0, 1, closed="left"), None],
    }

    def __init__(
        self,
        epochs: int = 300,
        batch_size: int = 500,
        learning_rate: float = 2e-4,
        weight_decay: float = 1e-6,
        latent_dim: int = 128,
        generator_hidden: tuple = (256, 256),
        discriminator_hidden: tuple = (128, 128),
        discriminator_steps: int = 1,
        pac: int = 1,
        adversarial_loss: str = "wgan-gp",
        gradient_penalty: float = 10.0,
        discriminator_dropout: float = 0.0,
        auxiliary_classifier: bool = True,
        classifier_weight_decay: float | None = None,
        generator_ema: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        validation_every: int = 5,
        patience: int = 5,
        validation_metric: str = "auto",
        discrete_columns: list | None = None,
        continuous_encoding: str = "quantile",
        image_size: int | None = None,
        random_state: Any = None,
        device: str = "auto",
        verbose: bool = False,
        distributed: bool = False,
        precision: str = "float32",
    ) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.latent_dim = latent_dim
        self.generator_hidden = generator_hidden
        self.discriminator_hidden = discriminator_hidden
        self.discriminator_steps = discriminator_steps
        self.pac = pac
        self.adversarial_loss = adversarial_loss
        self.gradient_penalty = gradient_penalty
        self.discriminator_dropout = discriminator_dropout
        self.auxiliary_classifier = auxiliary_classifier
        self.classifier_weight_decay = classifier_weight_decay
        self.generator_ema = generator_ema
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_every = validation_every
        self.patience = patience
        self.validation_metric = validation_metric
        self.discrete_columns = discrete_columns
        self.continuous_encoding = continuous_encoding
        self.image_size = image_size
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.distributed = distributed
        self.precision = precision

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.batch_size % self.pac:
            raise InvalidParameterError(
                f"The 'batch_size' parameter of GANSynthesizer must be a multiple of pac="
                f"{self.pac}; got {self.batch_size}."
            )

    # ------------------------------------------------ conditional vector
    def _condition_columns(self) -> list[tuple[dict, Any]]:
        """The categorical columns of the codec and their spans, in the table's order."""
        if self._image_shape() is not None:
            return []  # images have no columns to condition on
        return [
            (info, self.codec_.spans_[info["_spans"][0]])
            for info in self.codec_.columns_
            if info["kind"] == "categorical"
        ]

    def _condition_layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded column of each value of the conditional vector, and its column's number."""
        spans = [span for _, span in self._condition_columns()]
        columns = [torch.arange(s.start, s.stop) for s in spans]
        owner = [torch.full((s.size,), i) for i, s in enumerate(spans)]
        if not spans:
            empty = torch.zeros(0, dtype=torch.long)
            return empty, empty
        return torch.cat(columns).to(self.device_), torch.cat(owner).to(self.device_)

    def _sampling_conditions(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`_condition_layout` and the unconditional draw's probability of each value.

        A column uniformly, then a value at its real frequency: the data's marginal. Kept
        for the fitted codec, counts and device they were made for: a sampling pass rebuilt
        them from the spans (some 50 small operations per 2,048 rows on Adult).
        """
        key = (self.codec_, self._category_counts, self.device_)
        cached = self.__dict__.get("_sampling_conditions_cache")
        if cached is not None and all(a is b for a, b in zip(cached[0], key)):
            return cached[1]
        columns, owner = self._condition_layout()
        counts = torch.as_tensor(self._category_counts, device=self.device_).double()
        prob = counts
        if owner.numel():
            per_column = torch.zeros(int(owner.max()) + 1, dtype=torch.float64, device=self.device_)
            per_column.index_add_(0, owner, counts)
            prob = counts / per_column[owner]
        self.__dict__["_sampling_conditions_cache"] = (key, (columns, owner, prob))
        return columns, owner, prob

    @property
    def _condition_dim(self) -> int:
        return sum(span.size for _, span in self._condition_columns())

    def _resolve_conditions(self, conditions: Mapping[str, Any]) -> list[int]:
        """Index in the conditional vector of each ``{column: value}``; clear errors otherwise."""
        columns = self._condition_columns()
        by_name = {info["name"]: (info, span) for info, span in columns}
        offsets = np.cumsum([0] + [span.size for _, span in columns])
        numeric = {info["name"] for info in self.codec_.columns_ if info["kind"] != "categorical"}
        known = [info["name"] for info, _ in columns]
        indices = []
        if conditions and not columns:
            name = next(iter(conditions))
            what = "is numeric" if name in numeric else "is not a column of the training data"
            raise InvalidParameterError(
                f"conditions names column {name!r}, which {what}; conditions can only fix "
                "the values of categorical columns, and this model was trained on none: "
                "sample without conditions (or refit with the column in discrete_columns)."
            )
        for name, value in conditions.items():
            if name not in by_name:
                what = "is numeric" if name in numeric else "is not a column of the training data"
                raise InvalidParameterError(
                    f"conditions names column {name!r}, which {what}; conditions can fix the "
                    f"value of a categorical column: {known[:20]}."
                )
            info, _ = by_name[name]
            start = offsets[known.index(name)]
            cats = info["categories"]
            if not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value):
                if not info["has_missing"]:
                    raise InvalidParameterError(
                        f"conditions asks for missing values in column {name!r}, which had none "
                        "in fit."
                    )
                indices.append(int(start + len(cats)))
                continue
            value = _py(value)
            hits = [i for i, cat in enumerate(cats) if cat == value]
            if not hits:
                raise InvalidParameterError(
                    f"conditions asks for {value!r} in column {name!r}, a value not seen in fit; "
                    f"seen values include {cats[:20]}."
                )
            indices.append(int(start + hits[0]))
        return indices

    def _check_conditions(self, conditions: Any) -> None:
        if conditions is None:
            return
        if not isinstance(conditions, Mapping):
            raise InvalidParameterError(
                f"conditions must be a dict of {{column: value}}; got {type(conditions).__name__}."
            )
        if conditions and self._image_shape() is not None:
            raise InvalidParameterError(
                "conditions fix column values of a table; this GANSynthesizer was fitted on "
                "images. Condition on the class with y instead."
            )
        self._resolve_conditions(conditions)

    # ----------------------------------------------------------- networks
    def _make_networks(self) -> dict[str, nn.Module]:
        image = self._image_shape()
        if image is not None:
            return self._make_conv_networks(*image[:2])
        k = self._condition_dim
        networks: dict[str, nn.Module] = {
            "generator_": ResidualMLP(
                self.latent_dim + self.cond_dim_ + k, tuple(self.generator_hidden), self.data_dim_
            ),
            "discriminator_": Critic(
                self.data_dim_ + self.cond_dim_ + k,
                tuple(self.discriminator_hidden),
                pac=self.pac,
                dropout=self.discriminator_dropout,
            ),
        }
        if self.auxiliary_classifier and self.cond_dim_:
            networks["classifier_"] = MLP(
                self.data_dim_,
                tuple(self.discriminator_hidden),
                self.cond_dim_,
                activation="leaky_relu",
            )
        decay = TABLE_GENERATOR_EMA if self.generator_ema is None else self.generator_ema
        if decay > 0:
            # Last: its initial weights are drawn after the others', which stay as they were.
            networks["generator_ema_"] = WeightAverage(networks["generator_"], decay)
        return networks

    def _make_conv_networks(self, channels: int, size: int) -> dict[str, nn.Module]:
        """DCGAN-like generator, critic (and classifier) for ``channels x size x size`` images.

        Images have no categorical columns, so there is no conditional vector: the label
        enters the generator as input columns and the critic as one-hot planes.
        """
        width = max(self.discriminator_hidden)
        networks: dict[str, nn.Module] = {
            "generator_": ConvDecoder(
                self.latent_dim + self.cond_dim_, channels, size, max(self.generator_hidden)
            ),
            "discriminator_": ConvCritic(
                channels + self.cond_dim_,
                size,
                width,
                pac=self.pac,
                dropout=self.discriminator_dropout,
            ),
        }
        if self.auxiliary_classifier and self.cond_dim_:
            networks["classifier_"] = ConvEncoder(
                channels, size, self.cond_dim_, width, batch_norm=False
            )
        if self.generator_ema:
            networks["generator_ema_"] = WeightAverage(networks["generator_"], self.generator_ema)
        return networks

    def _make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        classifier_decay = self.classifier_weight_decay
        if classifier_decay is None:
            image = self._image_shape() is not None
            classifier_decay = self.weight_decay if image else TABLE_CLASSIFIER_WEIGHT_DECAY
        return {
            name: adam(
                module.parameters(),
                lr=self.learning_rate,
                betas=_ADAM_BETAS,
                weight_decay=classifier_decay if name == "classifier_" else self.weight_decay,
            )
            for name, module in self._modules().items()
            if name != "generator_ema_"  # not trained: it follows the generator
        }

    def _activate(
        self, raw: torch.Tensor, generator: torch.Generator, hard: bool, compact: bool = False
    ) -> torch.Tensor:
        bounded = self.continuous_encoding == "mode"
        return activate_rows(
            self.layout_, raw, generator, hard=hard, bounded=bounded, compact=compact
        )

    # ----------------------------------------------------------- training
    def _prepare_training(
        self, data: torch.Tensor, cond: torch.Tensor | None, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        prepared = super()._prepare_training(data, cond, generator)
        if prepared is not None:
            data, cond = prepared
        columns, owner = self._condition_layout()
        tables: dict[str, Any] = {"data": data, "labels": cond, "columns": columns}
        counts = torch.zeros(0, dtype=torch.long, device=data.device)
        joint = None
        if columns.numel():
            # value[i, j]: index in the conditional vector of row i's value in column j
            # (a loop over columns, not rows).
            spans = [span for _, span in self._condition_columns()]
            offsets = np.cumsum([0] + [s.size for s in spans[:-1]])
            value = torch.stack(
                [data[:, s.start : s.stop].argmax(1) + int(o) for s, o in zip(spans, offsets)], 1
            )
            n, n_cols = value.shape
            # Row numbers sorted by value: the rows holding value g are
            # rows[start[g] : start[g] + count[g]].
            flat = value.T.reshape(-1)  # column-major, so position p is row p % n
            counts = torch.bincount(flat, minlength=columns.numel())
            log_freq = torch.log1p(counts.double())
            per_column = torch.zeros(n_cols, dtype=torch.float64, device=data.device)
            per_column.index_add_(0, owner, log_freq)
            if cond is not None:
                # Rows per (class, value): the class rates of rows asked to hold a value.
                labels = cond.argmax(1).repeat(n_cols)  # in flat's column-major order
                joint = torch.bincount(
                    labels * columns.numel() + flat, minlength=cond.shape[1] * columns.numel()
                ).reshape(cond.shape[1], columns.numel())
            tables.update(
                rows=torch.argsort(flat, stable=True) % n,
                start=torch.cumsum(counts, 0) - counts,
                count=counts,
                train_prob=log_freq / per_column[owner] / n_cols,
            )
        # Counts over the whole training set: under distributed training each rank holds a
        # shard, and the saved model (the same on every rank) needs all of them.
        self._category_counts = self._over_all_rows(counts).cpu().numpy()
        self._label_category_counts = (
            None if joint is None else self._over_all_rows(joint).cpu().numpy()
        )
        if getattr(self, "_streaming", False) and columns.numel():
            # Streamed fit (BaseSynthesizer._fit_stream): `data` is a uniform sample of the
            # rows, not the training set; it gives each value's weight for _draw_streamed.
            tables["weight"] = tables["train_prob"] / counts.clamp_min(1)
        tables["stream"] = getattr(self, "_streaming", False)
        self._tables = tables
        return prepared

    def _over_all_rows(self, counts: torch.Tensor) -> torch.Tensor:
        """``counts`` summed over the ranks of a distributed fit (unchanged otherwise)."""
        if self.distributed and gdist.is_initialized():
            return gdist.sum_over_ranks(counts, self.device_)
        return counts

    def _finish_training(self) -> None:
        super()._finish_training()
        self._tables = None

    def _set_streamed_batch(self, x: torch.Tensor, c: torch.Tensor | None) -> None:
        """Streamed fit: make the batch ``x`` (labels ``c``) the real rows of this step.

        Also notes, for each row and categorical column, the index of the row's value in the
        conditional vector, and whether the codec knows it (an all-zero span is a value that
        the reservoir sample lacked).
        """
        t = self._tables
        t["data"], t["labels"] = x, c
        if t["columns"].numel():
            spans = [span for _, span in self._condition_columns()]
            offsets = np.cumsum([0] + [s.size for s in spans[:-1]])
            blocks = [x[:, s.start : s.stop] for s in spans]
            t["value"] = torch.stack([b.argmax(1) + int(o) for b, o in zip(blocks, offsets)], 1)
            t["known"] = torch.stack([b.sum(1) > 0 for b in blocks], 1)

    def _draw_streamed(
        self, size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Streamed counterpart of training-by-sampling: real rows from the streamed batch.

        The real rows are the batch's first ``size`` rows, each used once as it is. Each gets
        a conditional vector naming one of its own categorical values: the column is drawn
        per row with probability proportional to ``train_prob / count`` of the row's value in
        it (CTGAN's log-frequency target rate of the value over its rate in the data, both
        from the reservoir sample), so a row's rare values are named far more often than its
        common ones. As in training-by-sampling, the critic sees real rows that hold the named
        value and the generator is asked to produce it; rare values are not oversampled
        beyond their rows' share of the stream, since no row is drawn twice. A row whose
        values are all unknown to the codec names a column uniformly.
        """
        t = self._tables
        data = t["data"][:size]
        labels = None if t["labels"] is None else t["labels"][:size]
        if not t["columns"].numel():
            return data, labels, None
        value = t["value"][:size]
        weight = t["weight"][value] * t["known"][:size]
        weight = torch.where(weight.sum(1, keepdim=True) > 0, weight, torch.ones_like(weight))
        column = torch.multinomial(weight, 1, generator=generator)
        k = F.one_hot(value.gather(1, column).squeeze(1), t["columns"].numel())
        return data, labels, k.to(data.dtype)

    def _draw_batch(
        self, size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Real rows, their labels and conditional vectors by training-by-sampling."""
        t = self._tables
        if t["stream"]:
            return self._draw_streamed(size, generator)
        data, device = t["data"], t["data"].device
        k = None
        if t["columns"].numel():
            g = torch.multinomial(t["train_prob"], size, replacement=True, generator=generator)
            u = torch.rand(size, generator=generator, device=device, dtype=torch.float64)
            count = t["count"].index_select(0, g)
            pick = t["start"].index_select(0, g) + (u * count).long().clamp_max(count - 1)
            rows = t["rows"].index_select(0, pick)
            k = F.one_hot(g, t["columns"].numel()).to(data.dtype)
        else:
            rows = torch.randint(data.shape[0], (size,), generator=generator, device=device)
        # index_select rather than advanced indexing: the same rows, several times faster on CPU.
        labels = None if t["labels"] is None else t["labels"].index_select(0, rows)
        return data.index_select(0, rows), labels, k

    def _train_step(
        self,
        x: torch.Tensor,
        c: torch.Tensor | None,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, torch.Tensor]:
        # In memory, the rows of x are not used: training-by-sampling draws its own real
        # rows, as many as x has (rounded down to whole packs). A streamed fit has no table to
        # draw from and takes them from x (_draw_streamed).
        size = max(self.pac, x.shape[0] // self.pac * self.pac)
        if self._tables["stream"]:
            self._set_streamed_batch(x, c)
        # Under distributed training, a network's gradients are averaged over the ranks when
        # its own update's forward went through _synced. The critic's forward in the
        # generator's update uses the plain network: its gradients there are not wanted.
        critic = self._synced("discriminator_")
        parts: dict[str, torch.Tensor] = {}
        for step in range(self.discriminator_steps):
            real, labels, k = self._draw_batch(size, generator)
            z = torch.randn((size, self.latent_dim), generator=generator, device=self.device_)
            if step == self.discriminator_steps - 1:
                # The last critic update's fake rows are also the generator update's, with
                # their graph kept: one generator pass per step instead of two (the generator
                # is half of a step's time on Adult; the critic still sees them detached).
                raw = self._synced("generator_")(join_inputs(z, labels, k))
                fake = self._activate(raw, generator, hard=False)
                fake_d = fake.detach()
            else:
                with torch.no_grad():
                    fake_d = self._activate(
                        self.generator_(join_inputs(z, labels, k)), generator, hard=False
                    )
            real_in, fake_in = join_inputs(real, labels, k), join_inputs(fake_d, labels, k)
            # One critic pass over real and fake rows together: the critic has no batch
            # statistics and packs never straddle the two halves (size is a multiple of pac),
            # so the scores are those of two passes, at half the operator calls.
            real_scores, fake_scores = critic(torch.cat([real_in, fake_in]), generator).chunk(2)
            d_loss = discriminator_loss(real_scores, fake_scores, self.adversarial_loss)
            loss = d_loss
            if self.adversarial_loss == "wgan-gp" and self.gradient_penalty > 0:
                # The plain Critic itself, so that the penalty can take its closed form; a
                # distributed run's wrapper is called with the generator for its masks.
                scorer = critic
                if not isinstance(critic, Critic):
                    scorer = partial(critic, generator=generator)
                penalty = gradient_penalty(scorer, real_in, fake_in, generator, self.pac)
                loss = loss + self.gradient_penalty * penalty
                parts["gradient_penalty"] = penalty.detach()
            optimizer_step(optimizers["discriminator_"], loss)
            parts["discriminator"] = d_loss.detach()
            if "classifier_" in optimizers:
                cls_loss = F.cross_entropy(self._synced("classifier_")(real), labels.argmax(1))
                optimizer_step(optimizers["classifier_"], cls_loss)
                parts["classifier"] = cls_loss.detach()

        g_loss = generator_loss(
            self.discriminator_(join_inputs(fake, labels, k), generator), self.adversarial_loss
        )
        loss = g_loss
        if k is not None:
            target = torch.zeros_like(raw).index_copy_(1, self._tables["columns"], k.to(raw.dtype))
            ce = condition_cross_entropy(raw, target, self.layout_)
            loss = loss + ce
            parts["conditional"] = ce.detach()
        if "classifier_" in optimizers:
            loss = loss + F.cross_entropy(self.classifier_(fake), labels.argmax(1))
        optimizer_step(optimizers["generator_"], loss)
        if "generator_ema_" in self._module_names:
            self.generator_ema_.update(self.generator_)
        parts["generator"] = g_loss.detach()
        return parts

    # ----------------------------------------------------------- sampling
    def _sampling_generator(self) -> nn.Module:
        """The averaged generator when there is one, else the trained one."""
        if "generator_ema_" in self._module_names:
            return self.generator_ema_
        return self.generator_

    def _generate(
        self,
        n: int,
        c: torch.Tensor | None,
        generator: torch.Generator,
        conditions: Mapping[str, Any] | None = None,
        compact: bool = False,
    ) -> torch.Tensor:
        network = self._sampling_generator()
        if isinstance(network, WeightAverage):
            network = network.network
        if not isinstance(network, ResidualMLP):
            # Images: the label is the decoder's only input besides the noise.
            z = torch.randn((n, self.latent_dim), generator=generator, device=self.device_)
            return self._activate(network(join_inputs(z, c)), generator, hard=True)
        columns, owner, prob = self._sampling_conditions()
        # The generator's input after the noise is one-hot (the label, then the condition
        # vector): it is passed as the columns that are one.
        active = []
        # The one-hot blocks of the input (label, condition vector), for one lookup per row
        # of their combinations; not with fixed conditions (several ones in one block).
        groups: list[int] | None = [] if (c is None) == (self.cond_dim_ == 0) else None
        if c is not None:
            active.append(c.argmax(1, keepdim=True))
            if groups is not None:
                groups.append(self.cond_dim_)
        if conditions:
            fixed = torch.as_tensor(self._resolve_conditions(conditions), device=self.device_)
            active.append((fixed + self.cond_dim_).expand(n, -1))
            groups = None
        elif columns.numel():
            g = torch.multinomial(prob, n, replacement=True, generator=generator)
            active.append((g + self.cond_dim_)[:, None])
            if groups is not None:
                groups.append(columns.numel())
        z = torch.randn((n, self.latent_dim), generator=generator, device=self.device_)
        if active:
            active = torch.cat(active, dim=1)
        else:
            active = torch.zeros((n, 0), dtype=torch.long, device=self.device_)
        raw = network.forward_one_hot(z, active, groups)
        out = self._activate(raw, generator, hard=True, compact=compact)
        if conditions and compact:
            # Set the asked values: exact counts whatever the generator's own draw was.
            span, slot = self.layout_.column_slots(columns[fixed])
            out[:, span] = slot.to(out.dtype)
        elif conditions:
            same_column = torch.isin(owner, owner[fixed])
            out[:, columns[same_column]] = 0.0
            out[:, columns[fixed]] = 1.0
        return out

    # ------------------------------------------------------------ state
    @classmethod
    def _from_saved(cls, params: dict, state: dict, tensors: dict) -> GANSynthesizer:
        # Files saved before generator_ema existed hold no averaged generator: they sample
        # from the trained one, as they did.
        params.setdefault("generator_ema", 0.0)
        return super()._from_saved(params, state, tensors)

    def _label_weights(self, conditions: Mapping[str, Any]) -> np.ndarray | None:
        """Class rates among the training rows holding the asked values (``y`` not given).

        With one condition, the rates of the rows holding that value. With several, as if
        the values were independent within each class: ``P(y) prod_i P(v_i | y)``, since the
        training rows holding all of them at once may be few or none; if that gives no
        class at all, the mean of the single-value rates.
        """
        table = getattr(self, "_label_category_counts", None)
        if table is None:  # no labels, or a file saved before these counts were kept
            return None
        per_value = table[:, self._resolve_conditions(conditions)].astype(np.float64)
        if per_value.shape[1] == 1:
            weights = per_value[:, 0]
        else:
            # Rows per class: each row holds exactly one value of a column.
            column = self._condition_layout()[1].cpu().numpy()
            rows = table[:, column == column[0]].sum(axis=1).astype(np.float64)
            weights = np.prod(per_value, axis=1) / np.maximum(rows, 1.0) ** (
                per_value.shape[1] - 1
            )
            if weights.sum() <= 0:
                shares = per_value / np.maximum(per_value.sum(axis=0), 1.0)
                weights = shares.mean(axis=1)
        total = weights.sum()
        if not (np.isfinite(total) and total > 0):
            return None  # no training row holds the values (early stopping's held-out ones)
        return weights / total

    def _extra_state(self) -> dict[str, Any]:
        table = getattr(self, "_label_category_counts", None)
        return {
            **super()._extra_state(),
            "category_counts": [int(v) for v in self._category_counts],
            "label_category_counts": None if table is None else table.tolist(),
        }

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        super()._load_extra_state(state)
        counts = np.asarray(state["category_counts"], dtype=np.int64)
        if counts.shape != (self._condition_dim,) or (counts < 0).any():
            raise ModelFileError(
                "config.json's category counts do not match the codec's categorical columns."
            )
        self._category_counts = counts
        table = state.get("label_category_counts")  # absent from older files
        self._label_category_counts = None
        if table is not None:
            try:
                table = np.asarray(table, dtype=np.int64)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ModelFileError("config.json's label-category counts are not counts.") from exc
            n_classes = 0 if self.classes_ is None else len(self.classes_)
            if table.shape != (n_classes, self._condition_dim) or (table < 0).any():
                raise ModelFileError(
                    "config.json's label-category counts do not match the labels and the "
                    "codec's categorical columns."
                )
            self._label_category_counts = table
