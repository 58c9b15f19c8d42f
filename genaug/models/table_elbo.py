"""The tabular negative ELBO as one autograd node, with its gradient in closed form.

:func:`genaug.models.vae.elbo_loss` on a table is some forty element-wise operations, gathers
and small products, and autograd records each of them and runs a backward for each. At batch
500 that bookkeeping, not arithmetic, is most of the loss's time. Every term has a simple
derivative, so :class:`TableELBO` computes the loss with the same operations and its
gradient directly, in about twenty operations:

- categorical span ``s`` with target mass ``m_s`` (1, or 0 for an unknown category) and
  softmax ``p``: ``d/dlogit_j = m_s * p_j - t_j``;
- continuous value with error ``d = recon - x`` and log-scale ``l``: ``d/drecon = d * exp(-2l)``
  and ``d/dl = 1 - d^2 * exp(-2l)`` summed over rows;
- ``KL(N(mu_q, e^lq) || N(mu_p, e^lp))``: ``d/dmu_q = (mu_q - mu_p) e^-lp = -d/dmu_p``,
  ``d/dlq = (e^(lq - lp) - 1) / 2`` and
  ``d/dlp = (1 - e^(lq - lp) - (mu_q - mu_p)^2 e^-lp) / 2``; against ``N(0, I)``,
  ``d/dmu = mu`` and ``d/dlogvar = (e^logvar - 1) / 2``.

The tests check the values against the unfused definitions and the gradients with
``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from genaug.nn.spans import SpanLayout, take_columns

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class TableELBO(torch.autograd.Function):
    """Negative ELBO of a batch of encoded table rows (see the module docstring).

    ``apply(recon, mu, logvar, prior_mu, prior_logvar, log_sigma, x, layout, beta)`` returns
    ``(loss, reconstruction, kl)``, the batch means; only ``loss`` has a gradient.
    ``prior_mu`` and ``prior_logvar`` are ``None`` for the standard normal prior. Computed in
    the dtype of ``recon`` with autocast off (its exponentials and logarithms would run in
    float32 under autocast anyway).
    """

    @staticmethod
    def forward(ctx, recon, mu, logvar, prior_mu, prior_logvar, log_sigma, x, layout, beta):
        with torch.autocast(recon.device.type, enabled=False):
            dtype = recon.dtype
            mu, logvar = mu.to(dtype), logvar.to(dtype)
            rows = recon.new_zeros(recon.shape[0])
            saved: dict[str, torch.Tensor] = {}
            if layout.n_categorical:
                membership = layout._membership.to(dtype)
                v = layout._categorical(recon)
                t = layout._categorical(x).to(dtype)
                e, total, peak = layout._stable_exp(v)
                mass = t @ membership
                rows = (torch.log(total).add_(peak) * mass).sum(dim=1) - (v * t).sum(dim=1)
                saved.update(e=e, total=total, mass=mass, t=t)
            idx = layout.continuous_index
            if idx.numel():
                diff = take_columns(recon, idx) - take_columns(x, idx).to(dtype)
                inv_var = torch.exp(-2.0 * log_sigma.to(dtype))
                sq = diff * diff * inv_var
                constant = log_sigma.to(dtype).sum() + idx.numel() * _HALF_LOG_2PI
                rows = rows + (0.5 * sq.sum(dim=1) + constant)
                saved.update(diff=diff, inv_var=inv_var, sq=sq)
            if prior_mu is None:
                var = torch.exp(logvar)
                kl_rows = 0.5 * (mu * mu + var - 1.0 - logvar).sum(dim=1)
                saved.update(var=var)
                ctx.save_for_backward(mu)
            else:
                prior_mu, prior_logvar = prior_mu.to(dtype), prior_logvar.to(dtype)
                ratio = torch.exp(logvar - prior_logvar)
                gap = mu - prior_mu
                inv_prior = torch.exp(-prior_logvar)
                gap_sq = gap * gap * inv_prior
                kl_rows = 0.5 * (ratio + gap_sq - 1.0 - logvar + prior_logvar).sum(dim=1)
                saved.update(ratio=ratio, scaled_gap=gap * inv_prior, gap_sq=gap_sq)
            rec, kl = rows.mean(), kl_rows.mean()
        ctx.saved = saved
        ctx.layout, ctx.beta, ctx.shape = layout, float(beta), recon.shape
        ctx.has_prior = prior_mu is not None
        ctx.mark_non_differentiable(rec, kl)
        return rec + beta * kl, rec, kl

    @staticmethod
    @once_differentiable  # the backward is not itself differentiated: refuse, not mislead
    def backward(ctx, grad_loss, _grad_rec, _grad_kl):
        layout, saved = ctx.layout, ctx.saved
        n = ctx.shape[0]
        with torch.autocast(grad_loss.device.type, enabled=False):
            scale = grad_loss / n
            grad_recon = grad_log_sigma = None
            if ctx.needs_input_grad[0] or ctx.needs_input_grad[5]:
                grad_recon = grad_loss.new_zeros(ctx.shape)
                if layout.n_categorical:
                    # mass * softmax, with the per-span ratio spread over the columns once.
                    weight = layout._per_column(saved["mass"] / saved["total"])
                    g = saved["e"] * weight - saved["t"]
                    grad_recon.index_copy_(1, layout.categorical_columns, g * scale)
                if layout.continuous_index.numel():
                    g = saved["diff"] * saved["inv_var"] * scale
                    grad_recon.index_copy_(1, layout.continuous_index, g)
                    grad_log_sigma = (1.0 - saved["sq"]).sum(dim=0) * scale
            kl_scale = scale * ctx.beta
            grads_prior: tuple = (None, None)
            if ctx.has_prior:
                ratio = saved["ratio"]
                grad_mu = saved["scaled_gap"] * kl_scale
                grad_logvar = (ratio - 1.0) * (0.5 * kl_scale)
                grad_prior_logvar = (1.0 - ratio - saved["gap_sq"]) * (0.5 * kl_scale)
                grads_prior = (-grad_mu, grad_prior_logvar)
            else:
                (mu,) = ctx.saved_tensors
                grad_mu = mu * kl_scale
                grad_logvar = (saved["var"] - 1.0) * (0.5 * kl_scale)
        return (grad_recon, grad_mu, grad_logvar, *grads_prior, grad_log_sigma, None, None, None)


def table_elbo(
    recon: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    log_sigma: torch.Tensor,
    layout: SpanLayout,
    beta: float = 1.0,
    prior: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """:func:`genaug.models.vae.elbo_loss` for tables, as one autograd node.

    Parameters and returns as for ``elbo_loss`` with a ``layout``.
    """
    prior_mu, prior_logvar = (None, None) if prior is None else prior
    loss, rec, kl = TableELBO.apply(
        recon, mu, logvar, prior_mu, prior_logvar, log_sigma, x, layout, beta
    )
    return loss, {"reconstruction": rec, "kl": kl}
