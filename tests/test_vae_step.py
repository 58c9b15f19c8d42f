"""The VAE's hand-written training step against the autograd step it replaces."""

import numpy as np
import pandas as pd
import pytest
import torch

from genaug import VAESynthesizer
from genaug.models import vae_step
from genaug.nn.mlp import MLP, ResidualMLP

from .conftest import make_labelled


class _NoStep:
    """An optimizer that keeps the gradients and leaves the weights alone."""

    def __init__(self, params):
        self.param_groups = [{"params": list(params)}]

    def zero_grad(self, set_to_none=True):
        for p in self.param_groups[0]["params"]:
            p.grad = None

    def step(self):
        pass


def _fitted(X, y=None, **params):
    """A synthesizer after one epoch, and the first training batch it saw."""
    batches = []
    original = VAESynthesizer._train_step

    def spy(self, x, c, optimizers, generator):
        batches.append((x, c))
        return original(self, x, c, optimizers, generator)

    VAESynthesizer._train_step = spy
    try:
        syn = VAESynthesizer(epochs=1, batch_size=64, random_state=0, **params).fit(X, y)
    finally:
        VAESynthesizer._train_step = original
    return syn, batches[0]


def _gradients(syn, x, c, manual: bool):
    params = [p for m in syn._modules().values() for p in m.parameters()]
    opt = _NoStep(params)
    opt.zero_grad()
    generator = torch.Generator().manual_seed(3)
    if manual:
        vae = syn._manual_vae(opt)
        assert vae is not None
        losses = vae_step.train_step(vae, opt, x, c, syn.layout_, syn.beta, generator)
    else:
        syn._manual_vae = lambda opt: None  # the instance's attribute hides the method
        try:
            losses = syn._train_step(x, c, {"vae": opt}, generator)
        finally:
            del syn._manual_vae
    # Fused Adam reads gradients as flat memory: a strided one would be misread.
    assert all(p.grad is None or p.grad.is_contiguous() for p in params)
    grads = [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in params]
    return losses, grads, torch.rand(3, generator=generator)


def _frame(kind: str, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    cats = {
        "colour": rng.choice(["red", "green", "blue"], n),
        "size": rng.choice(["s", "m", "l", "xl"], n, p=[0.1, 0.4, 0.4, 0.1]),
    }
    nums = {"x": rng.normal(size=n), "w": rng.gamma(2.0, size=n)}
    return pd.DataFrame({"categorical": cats, "continuous": nums, "mixed": {**cats, **nums}}[kind])


@pytest.mark.parametrize(
    "labelled, kind, params",
    [
        (True, "mixed", {"encoder_hidden": (16, 12), "decoder_hidden": (8,), "latent_dim": 4}),
        (False, "mixed", {"encoder_hidden": (16,), "decoder_hidden": (16, 8, 6), "latent_dim": 3}),
        (True, "mixed", {"latent_dim": 2, "bare": True}),
        (True, "categorical", {"latent_dim": 4, "beta": 0.5}),
        (False, "continuous", {"latent_dim": 4, "encoder_hidden": (8,), "decoder_hidden": (8,)}),
    ],
)
def test_manual_step_matches_autograd(labelled, kind, params):
    params = dict(params)
    bare = params.pop("bare", False)
    if kind == "mixed" and labelled:
        X, y = make_labelled(300)
    else:
        X = _frame(kind)
        y = pd.Series(np.arange(len(X)) % 3) if labelled else None
    syn, (x, c) = _fitted(X, y, **params)
    assert (c is not None) == labelled
    if bare:
        # Networks without hidden layers (the synthesizer asks for at least one).
        torch.manual_seed(0)
        latent, cond = syn.latent_dim, syn.cond_dim_
        syn.encoder_ = MLP(syn.data_dim_ + cond, (), 2 * latent)
        syn.decoder_.net = MLP(latent + cond, (), syn.data_dim_)
    (manual, manual_grads, manual_next) = _gradients(syn, x, c, manual=True)
    (auto, auto_grads, auto_next) = _gradients(syn, x, c, manual=False)
    for key in ("loss", "reconstruction", "kl"):
        torch.testing.assert_close(manual[key], auto[key], rtol=1e-5, atol=1e-5)
    for got, want in zip(manual_grads, auto_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    # The same noise drawn: the generators end in the same state.
    torch.testing.assert_close(manual_next, auto_next, rtol=0, atol=0)


@pytest.mark.parametrize("labelled", [True, False])
def test_fit_takes_the_manual_step_and_trains_as_autograd_does(monkeypatch, labelled):
    X, y = make_labelled(400)
    y = y if labelled else None
    calls = []
    original = vae_step.train_step

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr("genaug.synthesizers.vae.train_step", counting)
    params = {"epochs": 3, "batch_size": 50, "random_state": 0}
    manual = VAESynthesizer(**params).fit(X, y)
    assert len(calls) == 3 * 10  # 400 rows in batches of 40
    monkeypatch.setattr(VAESynthesizer, "_manual_vae", lambda self, opt: None)
    auto = VAESynthesizer(**params).fit(X, y)
    assert len(calls) == 3 * 10  # 400 rows in batches of 40
    # Rounding apart, the same training: the same losses epoch by epoch.
    np.testing.assert_allclose(manual.history_["loss"], auto.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(manual.history_["kl"], auto.history_["kl"], rtol=1e-3)


def test_relu_layers_only_for_plain_relu_mlps():
    assert [layer.out_features for layer in vae_step.relu_layers(MLP(5, (4, 3), 2))] == [4, 3, 2]
    assert len(vae_step.relu_layers(MLP(5, (), 2))) == 1
    assert vae_step.relu_layers(MLP(5, (4,), 2, batch_norm=True)) is None
    assert vae_step.relu_layers(MLP(5, (4,), 2, activation="leaky_relu")) is None
    assert vae_step.relu_layers(ResidualMLP(5, (4,), 2)) is None
    assert vae_step.relu_layers(torch.nn.Sequential(torch.nn.Linear(5, 2))) is None


def test_autograd_path_where_the_manual_step_does_not_apply():
    X, y = make_labelled(200)
    syn, _ = _fitted(X, y, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,))
    opt = syn._make_optimizers()["vae"]
    assert syn._manual_vae(opt) is not None
    # An optimizer over other parameters: the step would leave some without gradients.
    assert syn._manual_vae(_NoStep(list(syn.encoder_.parameters()))) is None
    # bfloat16 autocast: the products run in bfloat16 through autograd.
    syn.precision = "bfloat16"
    with syn._autocast():
        assert syn._manual_vae(opt) is None
    syn.precision = "float32"
    # Another network shape.
    syn.encoder_ = ResidualMLP(syn.data_dim_ + syn.cond_dim_, (8,), 2 * syn.latent_dim)
    assert syn._manual_vae(opt) is None


def test_hooks_frozen_or_tied_parameters_keep_autograd():
    X, y = make_labelled(200)
    syn, _ = _fitted(X, y, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,))
    opt = syn._make_optimizers()["vae"]
    assert syn._manual_vae(opt) is not None
    # A forward hook: the manual step calls no module, so it would never run.
    handle = syn.decoder_.net.head.register_forward_hook(lambda m, i, o: None)
    assert syn._manual_vae(opt) is None
    handle.remove()
    handle = syn.encoder_.body[0].weight.register_hook(lambda g: g)
    assert syn._manual_vae(opt) is None
    handle.remove()
    assert syn._manual_vae(opt) is not None
    # A frozen parameter still in the optimizer: autograd would leave it alone.
    syn.encoder_.head.bias.requires_grad_(False)
    assert syn._manual_vae(opt) is None
    syn.encoder_.head.bias.requires_grad_(True)
    # An extra parameter on a layer would get no gradient.
    syn.encoder_.head.register_parameter("extra", torch.nn.Parameter(torch.zeros(1)))
    assert syn._manual_vae(opt) is None


def test_an_unlabelled_refit_after_a_labelled_one_takes_the_manual_step(monkeypatch):
    X, y = make_labelled(200)
    syn = VAESynthesizer(epochs=1, batch_size=50, latent_dim=2, random_state=0).fit(X, y)
    calls = []
    original = vae_step.train_step
    monkeypatch.setattr(
        "genaug.synthesizers.vae.train_step", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    syn.fit(X)  # the prior of the labelled fit is not this fit's
    assert calls


def test_the_manual_step_is_decided_once_per_fit(monkeypatch):
    X, y = make_labelled(200)
    calls = []
    original = VAESynthesizer._manual_vae

    def counting(self, opt):
        calls.append(opt)
        return original(self, opt)

    monkeypatch.setattr(VAESynthesizer, "_manual_vae", counting)
    syn = VAESynthesizer(epochs=2, batch_size=50, latent_dim=2, random_state=0).fit(X, y)
    assert len(calls) == 1
    syn.fit(X, y)  # a new fit, a new optimizer, a new decision
    assert len(calls) == 2 and calls[0] is not calls[1]
