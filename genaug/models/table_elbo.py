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


def elbo_forward(
    recon: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    prior_mu: torch.Tensor | None,
    prior_logvar: torch.Tensor | None,
    log_sigma: torch.Tensor,
    x: torch.Tensor,
    layout: SpanLayout,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The negative ELBO's batch means ``(loss, reconstruction, kl)``, and what its gradient needs.

    No autograd: the inputs are read as values. Computed in the dtype of ``recon``; the caller
    turns autocast off. :func:`elbo_backward` takes the returned dictionary.
    """
    dtype = recon.dtype
    mu, logvar = mu.to(dtype), logvar.to(dtype)
    rows = recon.new_zeros(recon.shape[0])
    saved: dict[str, torch.Tensor] = {}
    whole = None
    if layout.n_categorical and layout.covers_rows:
        whole = layout._stable_exp_rows(recon)
    if whole is not None:
        # Whole rows (CPU): the continuous columns weigh nothing in the per-span sums and
        # are left out of the target-weighted logits, so nothing is gathered.
        e, total, peak = whole
        t = x.to(dtype)
        mass = t @ layout._row_membership.to(dtype)
        picked = (recon * t) @ layout._row_categorical.to(dtype)
        rows = (torch.log(total).add_(peak) * mass).sum(dim=1) - picked
        saved.update(e_rows=e, total=total, mass=mass, t=t)
    elif layout.n_categorical:
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
    # KL summed over the batch, each element's terms combined before the sum, with
    # expm1(d) - d rather than exp(d) - 1 - d: the ones do not cancel, and what cancels
    # between expm1(d) and d for small d loses far fewer digits.
    if prior_mu is None:
        var_m1 = torch.expm1(logvar)
        kl_sum = (mu * mu).sum() + (var_m1 - logvar).sum()
        saved.update(var_m1=var_m1, mu=mu)
    else:
        prior_mu, prior_logvar = prior_mu.to(dtype), prior_logvar.to(dtype)
        log_ratio = logvar - prior_logvar
        ratio_m1 = torch.expm1(log_ratio)
        gap = mu - prior_mu
        scaled_gap = gap * torch.exp(prior_logvar.neg())
        gap_sq = scaled_gap * gap
        kl_sum = (ratio_m1 - log_ratio).sum() + gap_sq.sum()
        saved.update(ratio_m1=ratio_m1, scaled_gap=scaled_gap, gap_sq=gap_sq)
    rec, kl = rows.mean(), kl_sum * (0.5 / mu.shape[0])
    saved["rows"] = rows  # the dtype and device of the gradients
    return rec + beta * kl, rec, kl, saved


def elbo_backward(
    saved: dict[str, torch.Tensor],
    layout: SpanLayout,
    shape: torch.Size,
    scale: torch.Tensor | float,
    beta: float,
    recon_grad: bool = True,
    prior_mu_grad: bool = True,
) -> tuple[torch.Tensor | None, ...]:
    """Gradients of :func:`elbo_forward`'s loss, times ``scale * batch size``.

    ``scale`` is the loss's upstream gradient over the batch size (a float where it is known
    on the host: a product with a 0-d tensor is the slower one on CPU). Returns the gradients
    of ``(recon, mu, logvar, prior_mu, prior_logvar, log_sigma)``: ``None`` for the prior's
    without one, for ``recon`` and ``log_sigma`` when not ``recon_grad``, for ``log_sigma``
    without continuous columns, and for ``prior_mu`` when not ``prior_mu_grad`` (it is minus
    that of ``mu``).
    """
    grad_recon = grad_log_sigma = None
    if recon_grad:
        if "e_rows" in saved:
            # mass * softmax - target over whole rows; the continuous columns' values here
            # are meaningless and overwritten below.
            weight = take_columns(saved["mass"] / saved["total"], layout._row_owner)
            grad_recon = (saved["e_rows"] * weight).sub_(saved["t"]).mul_(scale)
        else:
            grad_recon = saved["rows"].new_zeros(shape)
        if "e" in saved:
            # mass * softmax, with the per-span ratio spread over the columns once.
            weight = layout._per_column(saved["mass"] / saved["total"])
            g = saved["e"] * weight - saved["t"]
            grad_recon.index_copy_(1, layout.categorical_columns, g * scale)
        if layout.continuous_index.numel():
            g = saved["diff"] * saved["inv_var"] * scale
            grad_recon.index_copy_(1, layout.continuous_index, g)
            grad_log_sigma = (1.0 - saved["sq"]).sum(dim=0) * scale
    kl_scale = scale * beta
    if "ratio_m1" in saved:
        ratio_m1 = saved["ratio_m1"]
        grad_mu = saved["scaled_gap"] * kl_scale
        grad_logvar = ratio_m1 * (0.5 * kl_scale)
        grad_prior_logvar = (ratio_m1 + saved["gap_sq"]).mul_(-0.5 * kl_scale)
        grad_prior_mu = -grad_mu if prior_mu_grad else None
        return grad_recon, grad_mu, grad_logvar, grad_prior_mu, grad_prior_logvar, grad_log_sigma
    grad_mu = saved["mu"] * kl_scale
    grad_logvar = saved["var_m1"] * (0.5 * kl_scale)
    return grad_recon, grad_mu, grad_logvar, None, None, grad_log_sigma


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
            loss, rec, kl, saved = elbo_forward(
                recon, mu, logvar, prior_mu, prior_logvar, log_sigma, x, layout, beta
            )
        # Through save_for_backward, so that an input changed in place before the backward
        # (mu, x) is an error rather than a wrong gradient.
        ctx.keys = tuple(saved)
        ctx.save_for_backward(*saved.values())
        ctx.layout, ctx.beta, ctx.shape = layout, float(beta), recon.shape
        ctx.mark_non_differentiable(rec, kl)
        return loss, rec, kl

    @staticmethod
    @once_differentiable  # the backward is not itself differentiated: refuse, not mislead
    def backward(ctx, grad_loss, _grad_rec, _grad_kl):
        with torch.autocast(grad_loss.device.type, enabled=False):
            grads = elbo_backward(
                dict(zip(ctx.keys, ctx.saved_tensors)),
                ctx.layout,
                ctx.shape,
                grad_loss / ctx.shape[0],
                ctx.beta,
                recon_grad=ctx.needs_input_grad[0] or ctx.needs_input_grad[5],
            )
        return (*grads, None, None, None)


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
