"""The closed-form gradient penalty of a Critic against autograd's double backward."""

import pytest
import torch

from genaug.models import gradient_penalty
from genaug.models.critic_penalty import CriticPenalty
from genaug.nn.critic import Critic


def _autograd_penalty(critic, real, fake, generator, pac):
    # The definition, through autograd: a plain callable never takes the closed form.
    return gradient_penalty(lambda t: critic(t, generator), real, fake, generator, pac)


def _both(hidden, pac, dropout, training, seed=0, rows=40, dim=7):
    torch.manual_seed(seed)
    critic = Critic(dim, hidden, pac=pac, dropout=dropout).train(training)
    real, fake = torch.randn(rows, dim), torch.randn(rows, dim)
    params = list(critic.parameters())
    results = []
    for fn in (gradient_penalty, _autograd_penalty):
        generator = torch.Generator().manual_seed(seed)
        penalty = fn(critic, real, fake, generator, pac)
        grads = torch.autograd.grad(penalty, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        # The generator's state after the call: the same draws in the same order.
        results.append((penalty, grads, torch.rand(3, generator=generator)))
    return results


@pytest.mark.parametrize(
    "hidden, pac, dropout, training",
    [
        ((16, 16), 1, 0.0, True),
        ((16, 16), 4, 0.5, True),
        ((16, 16), 4, 0.5, False),
        ((8,), 2, 0.0, True),
        ((16, 12, 8), 5, 0.3, True),
    ],
)
def test_closed_form_matches_autograd(hidden, pac, dropout, training):
    (fused, fused_grads, fused_next), (auto, auto_grads, auto_next) = _both(
        hidden, pac, dropout, training
    )
    assert fused.grad_fn is not None and "CriticPenalty" in type(fused.grad_fn).__name__
    torch.testing.assert_close(fused, auto)
    for got, want in zip(fused_grads, auto_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fused_next, auto_next, rtol=0, atol=0)


def test_gradcheck_float64():
    torch.manual_seed(1)
    critic = Critic(5, (6, 4), pac=2, dropout=0.4).double()
    x = torch.randn(6, 10, dtype=torch.float64)
    layers = [t.detach().requires_grad_(True) for p in critic.layers for t in (p.weight, p.bias)]
    head = [critic.head.weight.detach().requires_grad_(True), critic.head.bias.detach()]

    def penalty(head_weight, *layers):
        # A fresh generator per call: the same dropout masks every time.
        generator = torch.Generator().manual_seed(3)
        return CriticPenalty.apply(x, generator, 0.4, True, head_weight, head[1], *layers)

    assert torch.autograd.gradcheck(penalty, (head[0], *layers))


def test_falls_back_where_the_closed_form_does_not_apply():
    torch.manual_seed(2)
    critic = Critic(4, (8,), pac=1)
    real = torch.randn(10, 4)
    fake = torch.randn(10, 4, requires_grad=True)  # a fake that wants its gradient
    generator = torch.Generator().manual_seed(0)
    penalty = gradient_penalty(critic, real, fake, generator)
    assert "CriticPenalty" not in type(penalty.grad_fn).__name__
    # A piecewise-linear critic's input gradient is locally constant: zero, but defined.
    (grad,) = torch.autograd.grad(penalty, fake)
    assert grad.shape == fake.shape and torch.isfinite(grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, real, fake.detach(), generator)
    assert "CriticPenalty" not in type(penalty.grad_fn).__name__


def test_second_derivative_is_refused():
    torch.manual_seed(3)
    critic = Critic(4, (8,), pac=1)
    generator = torch.Generator().manual_seed(0)
    penalty = gradient_penalty(critic, torch.randn(6, 4), torch.randn(6, 4), generator)
    (grad,) = torch.autograd.grad(penalty, critic.head.weight, create_graph=True)
    with pytest.raises(RuntimeError):
        torch.autograd.grad(grad.sum(), critic.head.weight)


def test_zero_input_gradient_has_zero_penalty_gradient():
    # A critic whose head is zero has a zero input gradient: the penalty is 1 and the norm's
    # gradient, undefined there, is taken as zero (autograd's convention).
    critic = Critic(3, (4,), pac=1)
    with torch.no_grad():
        critic.head.weight.zero_()
    generator = torch.Generator().manual_seed(0)
    penalty = gradient_penalty(critic, torch.randn(5, 3), torch.randn(5, 3), generator)
    assert penalty.item() == pytest.approx(1.0)
    grads = torch.autograd.grad(penalty, [critic.head.weight, critic.layers[0].weight])
    assert all(torch.isfinite(g).all() and (g == 0).all() for g in grads)
