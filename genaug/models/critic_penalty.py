"""The WGAN-GP gradient penalty of a :class:`genaug.nn.critic.Critic`, its gradient in closed form.

The penalty ``mean((||d critic / d x|| - 1)^2)`` needs the critic's input gradient as a
function of its weights, and autograd gets there by differentiating its own backward
(``create_graph=True``): it records the backward's operations, then runs a backward of
those, including the branches through the activations' slopes, whose derivative is zero
almost everywhere, and the products that feed them. For the critic's MLP the whole
computation is short enough to write down. With ``a_l = h_{l-1} W_l^T + b_l`` and
``h_l = a_l * r_l``, where ``r_l`` is the leaky ReLU's slope at ``a_l`` (1 or 0.2) times the
layer's dropout mask (0 or ``1 / (1 - p)``), and the head ``s = h_L w^T + b``:

- input gradient: ``g_L = w * r_L``, ``g_{l-1} = (g_l W_l) * r_{l-1}``, ``d s / d x = g_1 W_1``;
- with ``q_0 = G = d penalty / d (ds/dx)`` (the rows of ``ds/dx`` times
  ``2 / P * (||.|| - 1) / ||.||``) and ``q_l = (q_{l-1} W_l^T) * r_l``:
  ``d/dW_l = g_l^T q_{l-1}``, and ``d/dw`` is the sum of ``q_L``'s rows;
- the biases only move the slopes' kinks: their gradient is zero almost everywhere, as
  autograd's is.

:class:`CriticPenalty` computes the penalty and that gradient with eight matrix products for
two hidden layers. The dropout masks are drawn from the caller's generator in the critic's
own order, so the values are those of the autograd path. At the default GAN's critic
(238 inputs, 128-128, batch 500) the penalty's forward and backward took 1.6-1.9 ms
against 2.6-2.8 ms through autograd (2-core dev box).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

# The critic's leaky ReLU slope (genaug.nn.critic.Critic.features).
NEGATIVE_SLOPE = 0.2


class CriticPenalty(torch.autograd.Function):
    """``mean((||grad_x critic(x)|| - 1)^2)`` over the packs ``x`` (P, pac * d).

    ``apply(x, generator, dropout, training, head_weight, head_bias, W_1, b_1, ..., W_L,
    b_L)`` returns the penalty (a 0-d tensor). ``x`` gets no gradient (the caller checks that
    it needs none); the biases get none (zero almost everywhere).
    """

    @staticmethod
    def forward(ctx, x, generator, dropout, training, head_weight, head_bias, *layers):
        weights = layers[0::2]
        h = x
        slopes = []
        for depth, (weight, bias) in enumerate(zip(weights, layers[1::2]), 1):
            a = torch.addmm(bias, h, weight.t())
            # The slope as leaky_relu's backward of ones: 7 us for 500 x 128 against 148 us
            # for torch.where(a > 0, 1.0, 0.2) with its scalar operands (2-core dev box).
            r = torch.ops.aten.leaky_relu_backward(
                a.new_ones(()).expand_as(a), a, NEGATIVE_SLOPE, False
            )
            if training and dropout > 0.0:
                # critic.dropout's draw, in the same order, shape and dtype.
                keep = torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
                r = r * (keep >= dropout) / (1.0 - dropout)
            slopes.append(r)
            if depth < len(weights):  # the last layer's activations feed only the score
                h = a * r
        grads = [head_weight * slopes[-1]]
        for weight, r in zip(reversed(weights[1:]), reversed(slopes[:-1])):
            grads.append((grads[-1] @ weight) * r)
        grads.reverse()
        gx = grads[0] @ weights[0]
        norm = gx.norm(dim=1)
        ctx.save_for_backward(gx, norm, *weights, *slopes, *grads)
        ctx.depth = len(weights)
        return (norm - 1.0).pow(2).mean()

    @staticmethod
    @once_differentiable  # the backward is not itself differentiated: refuse, not mislead
    def backward(ctx, grad):
        gx, norm, *rest = ctx.saved_tensors
        depth = ctx.depth
        weights, slopes, grads = rest[:depth], rest[depth : 2 * depth], rest[2 * depth :]
        # d/d gx of mean((||gx|| - 1)^2); a zero row norm has a zero gradient, as in autograd.
        coef = (norm - 1.0) / norm.clamp_min(torch.finfo(norm.dtype).tiny)
        coef = coef.masked_fill_(norm == 0, 0.0) * (2.0 / gx.shape[0]) * grad
        upstream = gx * coef[:, None]
        weight_grads = []
        for layer in range(depth):
            weight_grads.append(grads[layer].t() @ upstream)
            upstream = (upstream @ weights[layer].t()) * slopes[layer]
        head_grad = upstream.sum(0, keepdim=True)
        layer_grads = []
        for weight_grad in weight_grads:
            layer_grads += [weight_grad, None]
        return (None, None, None, None, head_grad, None, *layer_grads)
