"""Vectorised operations over the spans of an encoded table.

An encoded row is a concatenation of one-hot categorical spans and continuous values (see
:class:`genaug.data.TabularCodec`). The operations here treat all categorical spans at once
by gathering them into a padded ``(batch, n_spans, max_span)`` tensor, so their cost does not
grow with a Python loop over columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


class SpanLayout:
    """Index tensors describing where the categorical and continuous parts of a row are.

    Parameters
    ----------
    spans : sequence of genaug.data.tabular.Span
        The codec's layout.
    device : torch.device
    """

    def __init__(self, spans: Sequence, device: torch.device | str = "cpu") -> None:
        cat = [s for s in spans if s.kind == "categorical"]
        cont = [s.start for s in spans if s.kind == "continuous"]
        self.dim = max((s.stop for s in spans), default=0)
        self.n_categorical = len(cat)
        self.continuous_index = torch.tensor(cont, dtype=torch.long, device=device)
        width = max((s.size for s in cat), default=1)
        index = torch.zeros((len(cat), width), dtype=torch.long)
        mask = torch.zeros((len(cat), width), dtype=torch.bool)
        for i, s in enumerate(cat):
            index[i, : s.size] = torch.arange(s.start, s.stop)
            mask[i, : s.size] = True
        self.cat_index = index.to(device)
        self.cat_mask = mask.to(device)
        self.cat_start = torch.tensor([s.start for s in cat], dtype=torch.long, device=device)
        self.cat_size = torch.tensor([s.size for s in cat], dtype=torch.long, device=device)
        self.categorical_columns = torch.tensor(
            [j for s in cat for j in range(s.start, s.stop)], dtype=torch.long, device=device
        )
        # Flat forms of the index and the mask: index_select is several times faster than
        # advanced indexing on CPU, and these gathers run on every step and every sample chunk.
        self._flat_index = self.cat_index.reshape(-1)
        self._flat_valid = torch.nonzero(self.cat_mask.reshape(-1)).reshape(-1)
        self._width = width
        # membership[j, i] = 1 when the j-th categorical column belongs to span i.
        owner = torch.repeat_interleave(
            torch.arange(len(cat)), torch.tensor([s.size for s in cat], dtype=torch.long)
        )
        self._membership = F.one_hot(owner, max(len(cat), 1)).float().to(device)

    def _gather_raw(self, z: torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, n_spans, width); padding positions hold arbitrary values of ``z``."""
        return z.index_select(1, self._flat_index).view(z.shape[0], self.n_categorical, self._width)

    def _gather(self, z: torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, n_spans, width) with padding filled by -inf."""
        return self._gather_raw(z).masked_fill(~self.cat_mask, float("-inf"))

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over spans of the cross-entropy of ``logits`` against one-hot ``target``, per row.

        A span whose target row is all zeros (an unknown category) contributes nothing.
        """
        if self.n_categorical == 0:
            return logits.new_zeros(logits.shape[0])
        # sum_j t_j * (logsumexp - logit_j) per span, i.e. logsumexp times the span's target
        # mass minus the target-weighted logits: no padded copy of the target, no log-softmax
        # over the padding.
        lse = torch.logsumexp(self._gather(logits), dim=-1)
        t = target.index_select(1, self.categorical_columns)
        mass = t @ self._membership.to(t.dtype)
        picked = (logits.index_select(1, self.categorical_columns) * t).sum(dim=1)
        return (lse * mass).sum(dim=1) - picked

    def softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax of each categorical span of ``logits``; continuous parts unchanged."""
        if self.n_categorical == 0:
            return logits
        probs = F.softmax(self._gather(logits), dim=-1)
        return self._scatter(logits, probs)

    def gumbel_softmax(
        self, logits: torch.Tensor, tau: float, generator: torch.Generator
    ) -> torch.Tensor:
        """Gumbel-softmax relaxation of each categorical span, noise drawn from ``generator``."""
        if self.n_categorical == 0:
            return logits
        g = self._gather(logits)
        probs = F.softmax((g + _gumbel(g, generator)) / tau, dim=-1)
        return self._scatter(logits, probs)

    def sample_one_hot(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw one category per span from its softmax and return the one-hot rows.

        Exact inverse-CDF draws, one uniform number per span and row, vectorised over both.
        """
        if self.n_categorical == 0:
            return logits
        probs = F.softmax(self._gather(logits), dim=-1)
        u = torch.rand(probs.shape[:2], generator=generator, device=probs.device)
        cdf = probs.cumsum(dim=-1)
        choice = (cdf < u.unsqueeze(-1).to(cdf.dtype)).sum(dim=-1)
        # Rounding can leave the last cumulative value a hair below u.
        choice = torch.minimum(choice, self.cat_size - 1)
        out = logits.index_fill(1, self.categorical_columns, 0.0)
        out.scatter_(1, self.cat_start + choice, 1.0)
        return out

    def _scatter(self, base: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        # (B, n_categorical_columns) in span order: the valid positions of the padded spans.
        rows = values.reshape(values.shape[0], -1).index_select(1, self._flat_valid)
        return base.index_copy(1, self.categorical_columns, rows)


def _gumbel(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise of ``like``'s shape: ``-log(E)`` with ``E ~ Exp(1)``."""
    tiny = torch.finfo(like.dtype).tiny
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    exponential = -torch.log(u.clamp_min(tiny))
    return -torch.log(exponential.clamp_min(tiny))
