"""The fused tabular ELBO against its unfused definition: values and gradients."""

import pytest
import torch

from genaug.data.tabular import Span
from genaug.models.table_elbo import TableELBO, table_elbo
from genaug.models.vae import kl_gaussians, kl_standard_normal, reconstruction_nll
from genaug.nn.spans import SpanLayout

from .conftest import SMALL_SPANS

SPANS = SMALL_SPANS
LATENT = 4


def _batch(n: int, seed: int, dtype=torch.float64) -> dict:
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 12, dtype=dtype)
    for s in SPANS:
        if s.kind == "categorical":
            x[torch.arange(n), s.start + torch.randint(s.size, (n,), generator=g)] = 1.0
        else:
            x[:, s.start] = torch.randn(n, generator=g, dtype=dtype)
    x[:2, 4:9] = 0.0  # unknown categories contribute nothing

    def leaf(*shape, scale=1.0):
        t = torch.randn(*shape, generator=g, dtype=dtype) * scale
        return t.requires_grad_(True)

    return {
        "recon": leaf(n, 12, scale=2.0),
        "x": x,
        "mu": leaf(n, LATENT),
        "logvar": leaf(n, LATENT, scale=0.5),
        "log_sigma": leaf(2, scale=0.3),
        "prior": (leaf(n, LATENT), leaf(n, LATENT, scale=0.5)),
    }


def _unfused(b: dict, layout: SpanLayout, beta: float, with_prior: bool) -> tuple:
    rec = reconstruction_nll(b["recon"], b["x"], b["log_sigma"], layout).mean()
    if with_prior:
        kl = kl_gaussians(b["mu"], b["logvar"], *b["prior"]).mean()
    else:
        kl = kl_standard_normal(b["mu"], b["logvar"]).mean()
    return rec + beta * kl, rec, kl


@pytest.mark.parametrize("with_prior", [True, False])
@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_values_and_gradients_equal_the_unfused_definition(with_prior, beta):
    layout = SpanLayout(SPANS)
    b = _batch(16, seed=0)
    prior = b["prior"] if with_prior else None
    loss, parts = table_elbo(
        b["recon"], b["x"], b["mu"], b["logvar"], b["log_sigma"], layout, beta, prior
    )
    expected, rec, kl = _unfused(b, layout, beta, with_prior)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(parts["reconstruction"], rec.detach())
    torch.testing.assert_close(parts["kl"], kl.detach())
    assert not parts["reconstruction"].requires_grad and not parts["kl"].requires_grad
    inputs = [b["recon"], b["mu"], b["logvar"], b["log_sigma"]]
    if with_prior:
        inputs += list(b["prior"])
    got = torch.autograd.grad(loss * 1.7, inputs)
    want = torch.autograd.grad(expected * 1.7, inputs)
    names = ["recon", "mu", "logvar", "log_sigma", "prior_mu", "prior_logvar"]
    for name, g, w in zip(names, got, want):
        torch.testing.assert_close(g, w, msg=name)


def test_gradcheck():
    layout = SpanLayout(SPANS)
    b = _batch(5, seed=1)

    def f(recon, mu, logvar, prior_mu, prior_logvar, log_sigma):
        return TableELBO.apply(
            recon, mu, logvar, prior_mu, prior_logvar, log_sigma, b["x"], layout, 0.7
        )[0]

    assert torch.autograd.gradcheck(
        f, (b["recon"], b["mu"], b["logvar"], *b["prior"], b["log_sigma"])
    )


def test_only_categorical_or_only_continuous_columns():
    b = _batch(8, seed=2)
    # The first layout leaves columns to no span (the gathered path); the second covers its
    # columns with categorical spans only (the whole-row path, nothing overwritten after).
    covering = [Span(0, 3, "categorical", "a"), Span(3, 5, "categorical", "c")]
    for spans in ([SPANS[0], SPANS[2]], covering, [Span(0, 1, "continuous", "b")]):
        layout = SpanLayout(spans)
        width = max(s.stop for s in spans)
        recon = b["recon"][:, :width].detach().requires_grad_(True)
        x = b["x"][:, :width]
        n_cont = int(layout.continuous_index.numel())
        log_sigma = torch.zeros(n_cont, dtype=torch.float64, requires_grad=True)
        loss, _ = table_elbo(recon, x, b["mu"], b["logvar"], log_sigma, layout)
        expected = (
            reconstruction_nll(recon, x, log_sigma, layout).mean()
            + kl_standard_normal(b["mu"], b["logvar"]).mean()
        )
        torch.testing.assert_close(loss, expected)
        torch.testing.assert_close(
            torch.autograd.grad(loss, recon)[0], torch.autograd.grad(expected, recon)[0]
        )


def test_under_bfloat16_autocast_the_loss_is_float32_and_close():
    layout = SpanLayout(SPANS)
    b = _batch(16, seed=3, dtype=torch.float32)
    expected, _, _ = _unfused(b, layout, 1.0, True)
    prior = tuple(p.detach().bfloat16().requires_grad_(True) for p in b["prior"])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = table_elbo(
            b["recon"], b["x"], b["mu"], b["logvar"], b["log_sigma"], layout, 1.0, prior
        )
        loss.backward()
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, expected.detach(), rtol=2e-2, atol=2e-2)
    assert prior[0].grad.dtype == torch.bfloat16 and torch.isfinite(prior[1].grad).all()


def test_second_derivatives_are_refused():
    layout = SpanLayout(SPANS)
    b = _batch(6, seed=4)
    loss, _ = table_elbo(b["recon"], b["x"], b["mu"], b["logvar"], b["log_sigma"], layout)
    (grad,) = torch.autograd.grad(loss, b["recon"], create_graph=True)
    # An error, never a silently wrong second derivative.
    with pytest.raises(RuntimeError):
        grad.sum().backward()


@pytest.mark.parametrize("dominant", [False, True])
def test_whole_row_and_gathered_paths_agree(dominant):
    # On CPU a layout covering every column takes the whole-row path, steadied by the row's
    # maximum, or by each span's when a value (here a continuous one) sits far above a span.
    layout = SpanLayout(SPANS)
    assert layout.covers_rows
    b = _batch(16, seed=5)
    recon = b["recon"].detach().clone()
    if dominant:
        recon[3, 3] = 200.0
    e, total, peak = layout._stable_exp_rows(recon)
    assert peak.shape == (16, layout.n_categorical if dominant else 1)
    assert torch.isfinite(e).all()
    if dominant:
        # Only row 3 takes each span's own maximum (every span's sum is then at least 1);
        # the other rows keep their row's largest value.
        assert bool((total[3] >= 1.0).all())
        others = torch.arange(16) != 3
        row_top = recon[others].amax(1, keepdim=True).expand(-1, layout.n_categorical)
        assert torch.equal(peak[others], row_top)
    results = []
    for covers in (True, False):
        layout.covers_rows = covers
        leaf = recon.clone().requires_grad_(True)
        loss, _ = table_elbo(
            leaf, b["x"], b["mu"], b["logvar"], b["log_sigma"], layout, 1.0, b["prior"]
        )
        results.append((loss, torch.autograd.grad(loss, leaf)[0]))
    (loss_rows, grad_rows), (loss_gathered, grad_gathered) = results
    torch.testing.assert_close(loss_rows, loss_gathered)
    torch.testing.assert_close(grad_rows, grad_gathered)


def test_a_layout_with_uncovered_columns_skips_the_whole_row_path():
    layout = SpanLayout([SPANS[0], SPANS[2]])  # columns 3 and 9-11 belong to no span
    assert not layout.covers_rows


def test_an_input_changed_in_place_before_the_backward_is_an_error():
    layout = SpanLayout(SPANS)
    b = _batch(6, seed=7)
    x = b["x"].clone()
    loss, _ = table_elbo(b["recon"], x, b["mu"], b["logvar"], b["log_sigma"], layout)
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("shift", [0.0, -60.0])
def test_whole_row_paths_equal_the_unfused_definition(shift):
    # shift -60 puts span c far below its row's top: each span's own maximum steadies it.
    layout = SpanLayout(SPANS)
    b = _batch(16, seed=8)
    recon = b["recon"].detach().clone()
    recon[:, 4:9] += shift
    recon.requires_grad_(True)
    _, _, peak = layout._stable_exp_rows(recon.detach())
    assert peak.shape[1] == (1 if shift == 0.0 else layout.n_categorical)
    loss, _ = table_elbo(recon, b["x"], b["mu"], b["logvar"], b["log_sigma"], layout, 0.7)
    expected, _, _ = _unfused({**b, "recon": recon}, layout, 0.7, False)
    torch.testing.assert_close(loss, expected)
    for got, want in zip(
        torch.autograd.grad(loss, [recon, b["log_sigma"]]),
        torch.autograd.grad(expected, [recon, b["log_sigma"]]),
    ):
        torch.testing.assert_close(got, want)

    def f(r):
        mu, logvar, x = b["mu"][:5], b["logvar"][:5], b["x"][:5]
        return TableELBO.apply(r, mu, logvar, None, None, b["log_sigma"], x, layout, 0.7)[0]

    assert torch.autograd.gradcheck(f, (recon[:5].detach().requires_grad_(True),))
