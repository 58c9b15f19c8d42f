"""Vectorised operations over the spans of an encoded table.

An encoded row is a concatenation of one-hot categorical spans and continuous values (see
:class:`genaug.data.TabularCodec`). The operations here treat all categorical spans at once
as segments of the ``(batch, n_categorical_columns)`` matrix of their columns: per-span sums
are one matrix product with a column-to-span membership matrix, per-span maxima one
``scatter_reduce`` (on CPU, a softmax, cross-entropy or categorical draw first tries the
row's maximum as every span's stabiliser, see ``SpanLayout._stable_exp`` and
``SpanLayout._inverse_cdf_whole_rows``). Nothing is padded to the widest
span (Adult's 42 countries would make the padded tensor four times the size of the real
one), and no Python loop runs over rows or columns.

Columns are taken with :func:`torch.gather` on an expanded index rather than with
``index_select(1, ...)``: the values are the same, but on CPU ``index_select`` along the
second dimension walks the matrix column by column, and ``gather`` was 2-5x faster on
(8,192 x 100) blocks (``benchmarks/results/profile_ops.md`` shows these gathers leading the
VAE's sampling time before the change).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from genaug.nn.precision import exact_float32_products

# Rows per block of SpanLayout.sample_compact's draws (a sampling pass has GENERATE_CHUNK =
# 2,048 rows; early stopping's validation rows are one pass of up to 8,192): a block's running
# sums and thresholds are each a (rows x columns) matrix.
SAMPLE_BLOCK = 2048
# A span's exponentials, taken from the row's largest value, must sum to more than this for
# that shortcut to stand (SpanLayout._stable_exp, SpanLayout._inverse_cdf_whole_rows): its
# largest term is then a normal float32 (> 1e-20 / 42 for Adult's widest span), and the
# terms exp_nonpositive raises to its floor (3e-38) weigh less than 1e-16 of it.
STABLE_SUM_FLOOR = 1e-20
# Most columns per group of neighbouring spans whose within-span running sums are one
# product (SpanLayout._within_span_sums); a wider span is summed alone.
SPAN_GROUP_WIDTH = 48


_EXP_FLOORS = {
    dtype: math.log(torch.finfo(dtype).tiny) + 1.0
    for dtype in (torch.float32, torch.bfloat16, torch.float64)
}


def exp_nonpositive(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)`` of values minus a maximum (``x <= 0``), at least ``exp(log(tiny) + 1)``.

    On CPU ``torch.exp`` takes a slow path for float32 arguments below about -87.3, whose
    results underflow: 500 x 121 values took 7 us in [-80, 0] and 420-975 us in [-200, 0],
    [-95, -88] or [-1000, -200] (2-core dev box, torch 2.14.1). Logits minus their row's or
    span's maximum can go there; on Adult, the VAE's and GAN's rarely did (clamping changed
    neither their epochs nor their draws measurably), so this is a guard: the arguments
    are clamped to ``log(tiny) + 1``, and a term that would be a subnormal or zero comes out
    as ``e^-86.3`` (3e-38 in float32). Next to its span's largest term, 1, or a span sum
    above ``STABLE_SUM_FLOOR`` on the row-maximum paths, that is far below float32's
    resolution, so neither a sum nor a draw can tell it from zero. NaN stays NaN; ``-inf``
    becomes the floor too. float32, bfloat16 and float64 (floor ``e^-707``) are clamped,
    other dtypes get the plain exponential. Without autograd ``x`` is overwritten (pass a
    temporary); with it, nothing is done in place.

    Parameters
    ----------
    x : Tensor of floating dtype

    Returns
    -------
    Tensor
    """
    grad = x.requires_grad and torch.is_grad_enabled()
    if x.dtype not in _EXP_FLOORS:
        # float16's smallest normal, 6e-5, is no negligible term: no floor there.
        return torch.exp(x) if grad else x.exp_()
    floor = _EXP_FLOORS[x.dtype]
    if grad:
        return torch.exp(x.clamp_min(floor))
    return x.clamp_min_(floor).exp_()


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
        self.cat_start = torch.tensor([s.start for s in cat], dtype=torch.long, device=device)
        self.cat_size = torch.tensor([s.size for s in cat], dtype=torch.long, device=device)
        self.categorical_columns = torch.tensor(
            [j for s in cat for j in range(s.start, s.stop)], dtype=torch.long, device=device
        )
        # owner[j]: the span of the j-th categorical column; membership[j, i] = 1 when it
        # belongs to span i (per-span sums are then one matrix product).
        owner = torch.repeat_interleave(
            torch.arange(len(cat)), torch.tensor([s.size for s in cat], dtype=torch.long)
        )
        self._owner = owner.to(device)
        self._membership = F.one_hot(owner, max(len(cat), 1)).float().to(device)
        # Position of each span's first column among the categorical columns.
        sizes = torch.tensor([s.size for s in cat], dtype=torch.long)
        self._first = (torch.cumsum(sizes, 0) - sizes).to(device)
        self._last = (torch.cumsum(sizes, 0) - 1).to(device)
        # The same over whole rows (continuous columns included), for draws that skip the
        # gather of the categorical columns: 1 on categorical columns, each column's span
        # (0 for a continuous one), and span membership with zero rows for continuous ones.
        columns = self.categorical_columns.cpu()
        row_owner = torch.zeros(self.dim, dtype=torch.long)
        row_owner[columns] = owner
        row_categorical = torch.zeros(self.dim)
        row_categorical[columns] = 1.0
        row_membership = row_categorical[:, None] * F.one_hot(row_owner, max(len(cat), 1))
        self._row_owner = row_owner.to(device)
        self._row_categorical = row_categorical.to(device)
        self._row_membership = row_membership.to(device)
        self.cat_last = self.cat_start + self.cat_size - 1
        self._top_slot = (self.cat_size - 1).float()
        # Whether every column is a span's (codecs' layouts are; a hand-made one may skip some).
        covered = row_categorical.bool()
        covered[self.continuous_index.cpu()] = True
        self.covers_rows = bool(covered.all())
        # Each column's span over whole rows, the continuous (and uncovered) columns in an
        # extra last bucket, for per-span maxima that leave them out.
        self._row_bucket = torch.where(
            row_categorical.bool(), row_owner, torch.full_like(row_owner, len(cat))
        ).to(device)
        self._span_groups = _span_groups(cat, device)
        self._row_other = (~row_categorical.bool()).to(device)
        # Each column's position in its span, -1 off the spans (one-hot rows from choices).
        slot = torch.full((self.dim,), -1.0)
        if len(cat):
            slot[columns] = (torch.arange(len(columns)) - self._first.cpu()[owner]).float()
        self._row_slot = slot.to(device)

    def _categorical(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, C): the categorical columns of encoded rows."""
        return take_columns(rows, self.categorical_columns)

    def _per_column(self, per_span: torch.Tensor) -> torch.Tensor:
        """(B, n_spans) -> (B, C): each span's value repeated over its columns."""
        return take_columns(per_span, self._owner)

    def _span_max(self, v: torch.Tensor) -> torch.Tensor:
        """(B, C) -> (B, n_spans): each span's largest value, as a constant (no gradient)."""
        with torch.no_grad():
            out = v.new_full((v.shape[0], self.n_categorical), float("-inf"))
            return out.scatter_reduce_(1, self._owner.expand(v.shape[0], -1), v, "amax")

    def _stable_exp(
        self, v: torch.Tensor, row_peak: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``exp(v - peak)``, its per-span sums (B, n_spans), and ``peak`` (no gradient).

        ``peak`` only keeps the exponentials in range. The largest value of each span is the
        safe choice, but its ``scatter_reduce`` costs ten times an ``exp`` of the same
        matrix on CPU (80 against 7 us for Adult's 500 x 112 in a training batch, 2-core dev
        box). So on CPU, where reading a value back is free, the row's largest value is
        tried first (``peak`` is then (B, 1)) and kept when every span's sum stays above
        ``STABLE_SUM_FLOOR``: a span whose values all sit more than ~46 below the row's top
        falls back to per-span maxima for the whole batch. ``row_peak=False`` goes straight
        to those, for values whose spans are known to sit far apart (a Gumbel-softmax at
        temperature 0.2 multiplies the logits by five: on Adult every training batch of a
        GAN fell back).
        """
        membership = self._membership.to(v.dtype)
        if row_peak and v.device.type == "cpu":
            found = _row_peak_exp(v, membership)
            if found is not None:
                return found
        peak = self._span_max(v)
        e = exp_nonpositive(v - self._per_column(peak))
        return e, e @ membership, peak

    def _stable_exp_rows(
        self, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """:meth:`_stable_exp` over whole encoded rows (B, dim), on CPU, or ``None`` elsewhere.

        ``exp(rows - peak)`` and the per-span sums of its categorical columns, with no
        gather of the categorical columns. ``peak`` is each row's largest value (B, 1) when
        every span's sum then stays above ``STABLE_SUM_FLOOR``. Otherwise it is (B, n_spans):
        the rows where a span's sum fell under the floor (or is NaN) take each span's own
        maximum over the categorical columns, the others keep their row's largest value.
        The continuous columns' exponentials weigh nothing in the sums and are finite in
        every row (zero in the rows of per-span maxima, whose continuous values may be
        NaN or infinite). Values only, without autograd (the manual ELBO and the draws).

        A trained decoder's logits spread far apart, but in few rows: a 115-epoch Adult
        VAE's 2,048-row sampling passes each had some row with a span more than 46 below
        its top, about 2 % of the rows. Per-span maxima for those rows alone, rather than
        for the whole pass (a ``scatter_reduce`` that costs ten times an ``exp``), took
        such a pass's exponentials and sums from 0.66 to 0.35 ms (one process, 2-core dev
        box).
        """
        if rows.device.type != "cpu":
            return None
        membership = self._row_membership.to(rows.dtype)
        with torch.no_grad():
            top = rows.amax(dim=1, keepdim=True)
            e = exp_nonpositive(rows - top)
            total = e @ membership
            # The smallest sum against the floor: one reduction (a NaN fails it, as it should).
            if not total.numel() or bool(total.amin() > STABLE_SUM_FLOOR):
                return e, total, top
            failed = total.amin(dim=1).gt_(STABLE_SUM_FLOOR).logical_not_().nonzero().squeeze(1)
            part = rows.index_select(0, failed)
            peak = part.new_full((part.shape[0], self.n_categorical + 1), float("-inf"))
            peak.scatter_reduce_(1, self._row_bucket.expand(part.shape[0], -1), part, "amax")
            e_part = exp_nonpositive(part - take_columns(peak, self._row_bucket))
            # The continuous columns' bucket has their own maximum, so their exponentials
            # are at most 1, unless one is NaN or infinite (a row's top can fail on that).
            e_part.masked_fill_(self._row_other, 0.0)
            e.index_copy_(0, failed, e_part)
            total.index_copy_(0, failed, e_part @ membership)
            peaks = top.expand(-1, self.n_categorical).clone()
            peaks.index_copy_(0, failed, peak[:, : self.n_categorical])
        return e, total, peaks

    def _span_softmax(self, v: torch.Tensor, row_peak: bool = True) -> torch.Tensor:
        """Softmax within each span of the categorical columns ``v`` (B, C)."""
        e, total, _ = self._stable_exp(v, row_peak)
        return e / self._per_column(total)

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Sum over spans of the cross-entropy of ``logits`` against one-hot ``target``, per row.

        A span whose target row is all zeros (an unknown category) contributes nothing.
        """
        if self.n_categorical == 0:
            return logits.new_zeros(logits.shape[0])
        # sum_j t_j * (logsumexp - logit_j) per span, i.e. logsumexp times the span's target
        # mass minus the target-weighted logits. The maximum only steadies the exponentials,
        # so it is held constant (the gradient does not depend on it).
        v = self._categorical(logits)
        _, total, peak = self._stable_exp(v)
        lse = torch.log(total) + peak
        t = self._categorical(target).to(v.dtype)
        mass = t @ self._membership.to(v.dtype)
        return (lse * mass).sum(dim=1) - (v * t).sum(dim=1)

    def softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax of each categorical span of ``logits``; continuous parts unchanged."""
        if self.n_categorical == 0:
            return logits
        probs = self._span_softmax(self._categorical(logits))
        return logits.index_copy(1, self.categorical_columns, probs)

    def gumbel_softmax(
        self, logits: torch.Tensor, tau: float, generator: torch.Generator
    ) -> torch.Tensor:
        """Gumbel-softmax relaxation of each categorical span, noise drawn from ``generator``.

        One autograd node (:class:`_SpanGumbelSoftmax`) with the softmax's gradient written
        out; continuous columns pass unchanged.
        """
        if self.n_categorical == 0:
            return logits
        return _SpanGumbelSoftmax.apply(logits, self, float(tau), generator)

    @property
    def compact_dim(self) -> int:
        """Width of :meth:`sample_compact`'s rows: one column per span."""
        return self.n_categorical + int(self.continuous_index.numel())

    def sample_one_hot(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw one category per span from its softmax and return the one-hot rows.

        :meth:`sample_compact`'s draws (the same random numbers, the same categories) made
        into encoded rows by :meth:`expand_compact`, in ``logits``' dtype.
        """
        if self.n_categorical == 0:
            return logits
        return self.expand_compact(self.sample_compact(logits, generator)).to(logits.dtype)

    def sample_compact(self, logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draw one category per span from its softmax; rows of one column per span.

        Row ``i`` holds the slot drawn in each categorical span (``0`` to its size - 1, as a
        float) and then ``logits``' continuous columns, in the layout's order: no one-hot
        row is built, for callers that decode the draws straight away (a synthesizer's
        :meth:`sample`; :meth:`expand_compact` makes the one-hot rows).

        Exact inverse-CDF draws, one uniform number per span and row, vectorised over both.
        The uniform numbers are drawn for all rows at once, then the draws are made
        ``SAMPLE_BLOCK`` rows at a time, which bounds a large pass's temporaries; a draw can
        depend on the blocking only where its uniform number falls within rounding of a
        category's bound. They are made without autograd and outside any autocast region,
        in float32 on CPU (bfloat16 and float16 logits are widened) and in float64 where
        float32 products may be rounded: off CPU, and under a
        ``torch.set_float32_matmul_precision`` below ``"highest"`` or oneDNN's bfloat16
        math mode. The rows come back in that dtype (the slots are exact in both).
        """
        n = logits.shape[0]
        k = self.n_categorical
        idx = self.continuous_index
        dtype = _draw_dtype(logits)
        if k:
            u = torch.rand((n, k), generator=generator, device=logits.device)
        with torch.no_grad(), torch.autocast(logits.device.type, enabled=False):
            rows = logits.detach().to(dtype)
            out = rows.new_empty((n, self.compact_dim))
            for a in range(0, n if k else 0, SAMPLE_BLOCK):
                b = a + SAMPLE_BLOCK
                out[a:b, :k] = self._inverse_cdf(rows[a:b], u[a:b], slots=True)
            if idx.numel():
                out[:, k:] = take_columns(rows, idx)
        return out

    def expand_compact(self, compact: torch.Tensor) -> torch.Tensor:
        """Encoded rows (B, dim) of :meth:`sample_compact`'s rows, in their dtype.

        Each categorical span one-hot at its drawn slot, each continuous column its value,
        and zero in any column the layout does not cover.
        """
        k = self.n_categorical
        dtype = compact.dtype
        with torch.no_grad(), torch.autocast(compact.device.type, enabled=False):
            out = compact.new_empty((compact.shape[0], self.dim))
            spans_to_columns = self._row_membership.to(dtype).t()
            slot = self._row_slot.to(dtype)
            if not k:
                out.zero_()  # continuous columns only: filled below
            for a in range(0, compact.shape[0] if k else 0, SAMPLE_BLOCK):
                # One-hot rows as each column's span's slot compared with the column's own
                # slot (-1 off the spans): a product and a comparison, where a scatter of
                # the ones into zeros took 0.15 ms of a 2,048-row Adult pass.
                block = out[a : a + SAMPLE_BLOCK]
                torch.mm(compact[a : a + SAMPLE_BLOCK, :k], spans_to_columns, out=block)
                block.eq_(slot)
            idx = self.continuous_index
            if idx.numel():
                out.index_copy_(1, idx, compact[:, k:])
        return out

    def column_slots(self, columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The span (among the categorical ones) and slot of each categorical column.

        Parameters
        ----------
        columns : Tensor of shape (m,), dtype long
            Columns of an encoded row, each in a categorical span.

        Returns
        -------
        span, slot : Tensor of shape (m,), dtype long
            Where :meth:`sample_compact`'s rows hold the draw of each column's span, and the
            value that draws the column.
        """
        return self._row_owner[columns], self._row_slot[columns].long()

    def _inverse_cdf(
        self, logits: torch.Tensor, u: torch.Tensor, slots: bool = False
    ) -> torch.Tensor:
        """The category (B, n_spans) that each span's uniform number ``u`` falls on.

        As integers, or with ``slots`` as floats of the products' dtype (as the compact rows
        hold them: no conversion to integers and back).

        Inverse CDF on the unnormalised weights ``e``: in each span, the chosen category is
        the number of its columns whose running sum stays below ``u`` times the span's
        mass. On CPU, :meth:`_inverse_cdf_whole_rows`. Elsewhere the categorical columns
        are gathered and steadied by each span's maximum (so every span's mass is between
        1 and its size), and the running sums are taken over all of them at once in float64,
        compared in running-sum coordinates (``before + u * total``: no division or
        subtraction over every column); float64 keeps each span's own digits whatever
        spans come before it.
        """
        if logits.device.type == "cpu":
            choice = self._inverse_cdf_whole_rows(logits, u)
            if choice is not None:
                return choice if slots else choice.long()
        v = self._categorical(logits)
        e = exp_nonpositive(v - self._per_column(self._span_max(v)))
        running, before, total = _running_sums(e, self._first, self._last)
        threshold = before + u.double() * total
        below = (running < self._per_column(threshold)).to(self._membership.dtype)
        # Rounding can leave the last cumulative value a hair below u.
        choice = torch.minimum(below @ self._membership, self._top_slot)
        return choice if slots else choice.long()

    def _inverse_cdf_whole_rows(self, logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor | None:
        """:meth:`_inverse_cdf`'s slots (as floats) on whole rows, on CPU; ``None`` elsewhere.

        The CPU path (a value read back is free there): no gather of the categorical
        columns, exponentials steadied by the row's maximum when that keeps every span's
        mass above ``STABLE_SUM_FLOOR``, else by each span's own maximum
        (:meth:`_stable_exp_rows`). Each span's running sums are its own, taken from its
        first column (:meth:`_within_span_sums`), so a span far below the row's top keeps
        its digits (a running sum over the whole row would make it a sliver of the spans
        before it). The category is the number of the span's columns whose running sum
        stays below ``u`` times the span's mass.

        The running sums are in ``logits``' dtype, float32 when sampling on CPU: each
        category's bounds are then off by a few units in the last place of its span's mass
        (``6e-8`` of it; more for a span wider than ``SPAN_GROUP_WIDTH``, whose sums are
        sequential), the grid on which float32 uniform numbers fall anyway. On a 3-epoch
        GAN's 2,048-row Adult passes this took 0.58 ms against 1.42 ms for float64 running
        sums over whole rows (one process, 2-core dev box); 50,000-row draws' categorical
        part: ``benchmarks/results/draw_pairs.md``.
        """
        found = self._stable_exp_rows(logits)
        if found is None:
            return None
        # Every continuous column's exponential is finite (see _stable_exp_rows): a NaN or
        # infinite one would reach every running sum of its product group (0 * NaN).
        e, mass, _ = found
        within = self._within_span_sums(e)
        # Each column's threshold u * mass, its span's; exact: one nonzero term per column
        # (the continuous columns get 0, which no running sum is below).
        threshold = (u.to(mass.dtype) * mass) @ self._row_membership.to(mass.dtype).t()
        below = within.lt_(threshold)  # 1.0 / 0.0 in place
        choice = below @ self._row_membership.to(below.dtype)
        # Rounding can leave a span's last running sum a hair below u * mass.
        return torch.minimum(choice, self._top_slot.to(choice.dtype))

    def _within_span_sums(self, e: torch.Tensor) -> torch.Tensor:
        """Running sums of ``e`` (B, dim) within each categorical span, from its first column.

        Zero on the continuous columns. Neighbouring narrow spans are summed together by one
        product with a 0/1 matrix (upper triangular within each span, zero across spans):
        per-span cumulative sums cost a dozen small operations, and one product over the
        whole row does ``dim / SPAN_GROUP_WIDTH`` times the useful work (on Adult's 121
        columns and 2,048 rows: 0.24 ms, against 0.13 ms for three groups of up to 42 columns).
        A span wider than ``SPAN_GROUP_WIDTH`` gets its own cumulative sum.
        """
        out = torch.zeros_like(e)
        for a, b, block in self._span_groups:
            if block is None:
                torch.cumsum(e[:, a:b], dim=1, out=out[:, a:b])
            else:
                torch.mm(e[:, a:b], block.to(e.dtype), out=out[:, a:b])
        return out


class _SpanGumbelSoftmax(torch.autograd.Function):
    """``SpanLayout.gumbel_softmax`` as one autograd node.

    Recorded operation by operation, the relaxation (a gather, the noise, the per-span
    maxima, exponentials, sums and the division, the copy back into the row) left autograd
    a dozen nodes to run backward; its gradient is short: with ``p`` a span's softmax and
    ``g`` the incoming gradient, ``d/dlogit_j = p_j * (g_j - sum_i g_i p_i) / tau``. At batch
    500 on Adult, forward and backward took 0.94-0.96 ms recorded and 0.77-0.88 ms as one
    node (2-core dev box; most of the rest is the 57,500 uniform draws of the noise). The
    forward's values are those of the recorded operations.
    """

    @staticmethod
    def forward(ctx, logits, layout, tau, generator):
        v = layout._categorical(logits)
        y = v.add_(_gumbel(v, generator)).div_(tau)  # v is the gather's own copy
        e, total, _ = layout._stable_exp(y, row_peak=False)
        probs = e.div_(layout._per_column(total))
        ctx.save_for_backward(probs)
        ctx.layout, ctx.tau = layout, tau
        return logits.index_copy(1, layout.categorical_columns, probs)

    @staticmethod
    @once_differentiable  # the backward is not itself differentiated: refuse, not mislead
    def backward(ctx, grad):
        (probs,) = ctx.saved_tensors
        layout = ctx.layout
        # In the gradient's dtype even when the backward runs inside an autocast region.
        with torch.autocast(grad.device.type, enabled=False):
            g = layout._categorical(grad)
            weighted = (g * probs) @ layout._membership.to(g.dtype)
            grad_v = g.sub_(layout._per_column(weighted)).mul_(probs).div_(ctx.tau)
            return grad.index_copy(1, layout.categorical_columns, grad_v), None, None, None


def _draw_dtype(logits: torch.Tensor) -> torch.dtype:
    """float32 for categorical draws where float32 products are exact, else float64."""
    if logits.dtype == torch.float64 or not exact_float32_products(logits.device):
        return torch.float64
    return torch.float32


def _span_groups(
    spans: Sequence, device: torch.device | str
) -> list[tuple[int, int, torch.Tensor | None]]:
    """Groups of neighbouring categorical spans for ``SpanLayout._within_span_sums``.

    Each group is ``(a, b, block)``: columns ``a:b`` of a row, from its first span's start
    to its last span's end, and the (b - a) x (b - a) matrix whose product with those
    columns gives each span's running sums (``block[i, j] = 1`` when columns ``a + i`` and
    ``a + j`` are in the same span and ``i <= j``); ``block`` is None for a span wider than
    ``SPAN_GROUP_WIDTH``, summed alone by ``cumsum``.
    """
    groups: list[list] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.size > SPAN_GROUP_WIDTH:
            groups.append([span])
            continue
        last = groups[-1] if groups else None
        if (
            last is not None
            and last[0].size <= SPAN_GROUP_WIDTH
            and span.stop - last[0].start <= SPAN_GROUP_WIDTH
        ):
            last.append(span)
        else:
            groups.append([span])
    out: list[tuple[int, int, torch.Tensor | None]] = []
    for members in groups:
        a, b = members[0].start, members[-1].stop
        if len(members) == 1 and members[0].size > SPAN_GROUP_WIDTH:
            out.append((a, b, None))
            continue
        block = torch.zeros(b - a, b - a)
        for span in members:
            i, j = span.start - a, span.stop - a
            block[i:j, i:j] = torch.ones(span.size, span.size).triu_()
        out.append((a, b, block.to(device)))
    return out


def _row_peak_exp(
    v: torch.Tensor, membership: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``exp(v - top)`` with ``top`` each row's largest value, its per-span sums through
    ``membership``, and ``top``; ``None`` when a span's sum falls under ``STABLE_SUM_FLOOR``
    (read back on the host: CPU only)."""
    with torch.no_grad():
        top = v.amax(dim=1, keepdim=True)
    e = exp_nonpositive(v - top)
    total = e @ membership
    # The smallest sum against the floor: one reduction (a NaN fails it, as it should).
    if not total.numel() or bool(total.amin() > STABLE_SUM_FLOOR):
        return e, total, top
    return None


def _running_sums(
    e: torch.Tensor, first: torch.Tensor, last: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 running sums of ``e`` along a row, each span's sum before it and its mass.

    ``first`` and ``last`` are the columns of ``e`` where each span starts and ends.
    """
    running = torch.cumsum(e, dim=1, dtype=torch.float64)
    before = take_columns(running, first) - take_columns(e, first)
    return running, before, take_columns(running, last) - before


def take_columns(x: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``x.index_select(1, columns)``, computed by the faster ``gather``.

    Parameters
    ----------
    x : Tensor of shape (B, D)
    columns : Tensor of shape (K,), dtype long

    Returns
    -------
    Tensor of shape (B, K)
    """
    return torch.gather(x, 1, columns.expand(x.shape[0], -1))


def _gumbel(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel noise of ``like``'s shape: ``-log(E)`` with ``E ~ Exp(1)``."""
    tiny = torch.finfo(like.dtype).tiny
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    # In place, on the one fresh buffer: -log(max(-log(max(u, tiny)), tiny)).
    return u.clamp_min_(tiny).log_().neg_().clamp_min_(tiny).log_().neg_()
