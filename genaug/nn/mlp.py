"""Fully connected blocks for tables."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from genaug.nn.precision import autocast_dtype, full_precision

# Most rows of a combined lookup table of ResidualMLP.forward_one_hot (a GAN's labels times
# its condition vector's columns: 2 x 102 on Adult); above it, the rows are summed per row.
MAX_COMBINED_ROWS = 4_096


class MLP(nn.Module):
    """A stack of ``Linear -> (BatchNorm) -> activation`` layers and a linear output layer.

    Parameters
    ----------
    in_dim : int
        Input width.
    hidden : sequence of int
        Width of each hidden layer.
    out_dim : int
        Output width.
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    activation : {"relu", "leaky_relu"}, default="relu"
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int],
        out_dim: int,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.LeakyReLU(0.2) if activation == "leaky_relu" else nn.ReLU())
            width = h
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_dim)
        self.feature_dim = width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Activations of the last hidden layer."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return full_precision(self.head, self.body(x))


class ResidualMLP(nn.Module):
    """Generator body of CTGAN's shape: each block concatenates its input to its output.

    ``Linear -> BatchNorm -> ReLU`` blocks whose outputs are concatenated with their inputs, so the
    width grows by each block's size; a linear layer maps the result to ``out_dim``.

    In evaluation mode without autograd (sampling), the same function is computed without
    concatenations: every block writes its output into its own columns of one preallocated
    matrix, laid out as the concatenations would be, and reads its input as a view of the
    columns after them; batch normalisation, an affine map with its running statistics,
    is folded into the block's linear layer. The result equals the concatenating path to
    float32 rounding, and a 2,048-row pass of the default generator took 0.77 of its time
    (one thread, 2-core dev box). :meth:`forward_one_hot` goes further for inputs whose tail
    is one-hot (a GAN's label and condition vector): their products become lookups.
    """

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        width = in_dim
        for h in hidden:
            self.blocks.append(nn.Sequential(nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()))
            width += h
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training and not torch.is_grad_enabled():
            return self._forward_inference(x)
        if (
            torch.is_grad_enabled()
            and not x.requires_grad
            and autocast_dtype(x.device.type) is None
        ):
            return self._forward_constant_input(x)
        for block in self.blocks:
            x = torch.cat([block(x), x], dim=1)
        return full_precision(self.head, x)

    def _forward_constant_input(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` with autograd, for an input that needs no gradient (a GAN's noise).

        The concatenating path differentiates each layer with respect to its whole input,
        ``x``'s columns included, and throws that part away; here each layer's product is a
        :class:`_ResidualLinear` whose backward computes the hidden columns' gradient only.
        Same values and gradients (bit for bit in the measurements; the tests allow rounding);
        a default generator's forward and backward at batch 500 took 0.91 of the time (2-core
        dev box, alternating runs).
        """
        hidden: list[torch.Tensor] = []
        for block in self.blocks:
            linear, norm, activation = block
            pre = _ResidualLinear.apply(linear.weight, linear.bias, x, *reversed(hidden))
            hidden.append(activation(norm(pre)))
        return _ResidualLinear.apply(self.head.weight, self.head.bias, x, *reversed(hidden))

    def _forward_inference(self, x: torch.Tensor) -> torch.Tensor:
        widths = [block[0].out_features for block in self.blocks]
        total = x.shape[1] + sum(widths)
        buffer = x.new_empty((x.shape[0], total))
        start = total - x.shape[1]
        buffer[:, start:] = x
        for block, width in zip(self.blocks, widths):
            linear, norm = block[0], block[1]
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            weight = linear.weight * scale[:, None]
            bias = (linear.bias - norm.running_mean) * scale + norm.bias
            out = buffer[:, start - width : start]
            out.copy_(F.linear(buffer[:, start:], weight, bias))
            out.clamp_(min=0.0)
            start -= width
        return full_precision(self.head, buffer)

    def forward_one_hot(
        self, dense: torch.Tensor, active: torch.Tensor, groups: Sequence[int] | None = None
    ) -> torch.Tensor:
        """The network on ``[dense, S]`` where ``S`` is 0/1 with its ones at ``active``.

        ``S`` has ``in_dim - dense.shape[1]`` columns and row ``i`` is one at columns
        ``active[i, :]`` (distinct within a row) and zero elsewhere: a one-hot label and
        condition vector. In evaluation mode without autograd, each layer's product with
        ``S`` is a lookup of its weight columns, added to the bias in place of the product;
        under autocast the hidden layers run in its dtype (lookups included) and the output
        layer in float32, as :meth:`forward` does. Otherwise (training, autograd) ``S`` is
        built and :meth:`forward` runs: there the lookups' backward cost more than the
        products they replace (a 6-epoch Adult fit took 5.9-6.3 s against 5.5-5.8 s).

        Parameters
        ----------
        dense : Tensor of shape (n, d)
        active : Tensor of shape (n, m), dtype long
            Columns of ``S`` (0 to ``in_dim - d - 1``) that are one; ``m`` may be 0.
        groups : sequence of int, optional
            When ``S`` is ``m`` one-hot blocks of these sizes, one after the other, with
            ``active[:, g]`` in block ``g``: each layer then looks up one row of a table of
            every combination of the blocks' columns (kept with the weights) instead of
            summing ``m + 1`` rows, when there are at most ``MAX_COMBINED_ROWS``
            combinations. Same values in float32: the table's rows are summed in the
            bag's order (under bfloat16 autocast each combination is rounded once, where
            a bag may round differently).

        Returns
        -------
        Tensor of shape (n, out_dim)
        """
        n, d = dense.shape
        width = self.head.in_features - sum(b[0].out_features for b in self.blocks) - d
        device = dense.device.type
        sizes = _combinable(groups, width, active.shape[1])
        if self.training or torch.is_grad_enabled() or dense.dtype != torch.float32:
            ones = dense.new_zeros((n, width)).scatter_(1, active, 1.0)
            return self(torch.cat([dense, ones], dim=1))
        dtype = autocast_dtype(device)
        with torch.autocast(device, enabled=False):
            layers = self._one_hot_layers(d, dtype)
            if sizes is not None:
                # Each row's one lookup: its combination of the blocks' columns.
                # From Python numbers: no small tensor to copy to the device per pass.
                strides = [math.prod(sizes[g + 1 :]) for g in range(len(sizes))]
                first = sum(sum(sizes[:g]) * strides[g] for g in range(len(sizes)))
                index = torch.full((n,), -first, dtype=active.dtype, device=active.device)
                for g, stride in enumerate(strides):
                    index.add_(active[:, g], alpha=stride)
                tables = self._combined_tables(layers, sizes)
                layers = [(t, w) for t, (_, w) in zip(tables, layers)]
            else:
                # Each row's lookups: its active columns and the bias, the tables' last row.
                last = torch.full((n, 1), width, dtype=active.dtype, device=active.device)
                index = torch.cat([active, last], dim=1)
            parts = [dense if dtype is None else dense.to(dtype)]
            for table, weights in layers[:-1]:
                parts.insert(0, _one_hot_layer(table, weights, parts, index).clamp_(min=0.0))
            if dtype is not None:
                parts = [h.float() for h in parts[:-1]] + [dense]
            table, weights = layers[-1]
            return _one_hot_layer(table, weights, parts, index)

    def _combined_tables(
        self, layers: list[tuple[torch.Tensor, list[torch.Tensor]]], sizes: tuple[int, ...]
    ) -> list[torch.Tensor]:
        """Per layer, the sum of the bias and one weight column of each one-hot block, for
        every combination of the blocks' columns (the first block's varying slowest); kept
        with the layers they are made from."""
        cached = self.__dict__.get("_one_hot_combined")
        if cached is not None and cached[0] is layers and cached[1] == sizes:
            return cached[2]
        # Kept only with weights that are kept themselves (not for inference tensors).
        keep = self.__dict__.get("_one_hot_cache", (None, None))[1] is layers
        tables = []
        for table, _ in layers:
            # Summed as embedding_bag sums a bag (its rows in order, then the bias, in float32
            # at least, rounded once), so that a lookup gives the same float as the bag did.
            wide = torch.promote_types(table.dtype, torch.float32)
            combined = torch.zeros((1, table.shape[1]), dtype=wide, device=table.device)
            start = 0
            for size in sizes:
                block = table[start : start + size].to(wide)
                combined = (combined[:, None, :] + block[None, :, :]).reshape(-1, table.shape[1])
                start += size
            tables.append((combined + table[-1].to(wide)).to(table.dtype))
        if keep:
            self.__dict__["_one_hot_combined"] = (layers, sizes, tables)
        return tables

    def _one_hot_layers(
        self, d: int, dtype: torch.dtype | None
    ) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        """Per layer of :meth:`forward_one_hot`, its lookup table and its product weights.

        The table holds the one-hot part's weight columns (transposed) and the bias as its
        last row; the weights are the transposed column blocks that multiply
        ``h_k, ..., h_1, dense``. Batch normalisation is folded into the hidden layers,
        which are cast to ``dtype`` (the output layer stays float32). Kept between calls
        while no parameter or running statistic has changed (their version counters and
        storage say so): folding and slicing them for every 2,048-row pass cost some 5 % of
        a GAN's sampling time on Adult. A change made through ``.data`` moves no version
        counter and is not seen: change parameters in place under ``torch.no_grad()``.
        """
        # The tensors folded below, read directly (a walk over the submodules on every pass
        # cost more than reading them).
        tensors = [self.head.weight, self.head.bias]
        for block in self.blocks:
            linear, norm = block[0], block[1]
            tensors += [linear.weight, linear.bias, norm.weight, norm.bias]
            tensors += [norm.running_mean, norm.running_var]
        # Inference tensors keep no version counter: nothing is kept for them.
        keep = not any(t.is_inference() for t in tensors)
        if keep:
            eps = tuple(block[1].eps for block in self.blocks)
            key = (d, dtype, eps, tuple((t.data_ptr(), t._version) for t in tensors))
            cached = self.__dict__.get("_one_hot_cache")
            if cached is not None and cached[0] == key:
                return cached[1]
        layers = []
        widths: list[int] = []  # the hidden parts' widths, newest first
        for block in self.blocks:
            linear, norm = block[0], block[1]
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            weight = linear.weight * scale[:, None]
            bias = (linear.bias - norm.running_mean) * scale + norm.bias
            if dtype is not None:
                weight, bias = weight.to(dtype), bias.to(dtype)
            layers.append(_one_hot_weights(weight, bias, [*widths, d]))
            widths.insert(0, linear.out_features)
        layers.append(_one_hot_weights(self.head.weight, self.head.bias, [*widths, d]))
        layers = [(t.detach(), [w.detach() for w in ws]) for t, ws in layers]
        if keep:
            self.__dict__["_one_hot_cache"] = (key, layers)
        return layers

    def __getstate__(self) -> dict:
        # Pickles and deep copies leave the kept sampling weights behind.
        state = self.__dict__.copy()
        state.pop("_one_hot_cache", None)
        state.pop("_one_hot_combined", None)
        return state


def _one_hot_weights(
    weight: torch.Tensor, bias: torch.Tensor, widths: list[int]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A residual layer's lookup table and product weights (see ``_one_hot_layers``)."""
    start = sum(widths)
    # One summed lookup per row of the one-hot part's weight columns and the bias (the
    # table's last row, looked up by every row).
    table = torch.cat([weight[:, start:].t(), bias[None, :]])
    blocks = list(weight[:, :start].split(widths, dim=1))
    return table, [w.t() for w in blocks]


def _combinable(groups: Sequence[int] | None, width: int, m: int) -> tuple[int, ...] | None:
    """``groups`` as a tuple when ``forward_one_hot`` can look up their combinations."""
    if groups is None:
        return None
    sizes = tuple(int(g) for g in groups)
    if len(sizes) != m or sum(sizes) != width or any(g < 1 for g in sizes):
        raise ValueError(
            f"groups {sizes} must be one positive size per active column ({m}) adding up "
            f"to the one-hot part's width ({width})."
        )
    return sizes if math.prod(sizes) <= MAX_COMBINED_ROWS else None


def _one_hot_layer(
    table: torch.Tensor,
    weights: list[torch.Tensor],
    parts: list[torch.Tensor],
    index: torch.Tensor,
) -> torch.Tensor:
    """A residual layer's linear map of ``[h_k, ..., h_1, dense, S]`` (see ``forward_one_hot``).

    ``index`` is (n, m + 1), each row's bag of lookups, or (n,), each row's one row of a
    combined table.
    """
    if index.dim() == 1:
        # One row per output row: a plain lookup (0.09 against 0.16 ms for three-row bags
        # of a 2,048 x 256 layer, 2-core dev box).
        out = F.embedding(index, table)
    else:
        out = F.embedding_bag(index, table, mode="sum")
    for part, weight in zip(parts, weights):
        out.addmm_(part, weight)
    return out


class _ResidualLinear(torch.autograd.Function):
    """``[h_1, ..., h_k, x] @ weight.T + bias`` with no gradient for the constant ``x``.

    One product over the concatenated input, as ``nn.Linear`` on ``torch.cat`` would do; the
    backward computes the input gradient of the hidden parts' columns only.
    """

    @staticmethod
    def forward(ctx, weight, bias, x, *hidden):
        inputs = torch.cat([*hidden, x], dim=1) if hidden else x
        ctx.save_for_backward(weight, inputs)
        ctx.widths = [h.shape[1] for h in hidden]
        return torch.addmm(bias, inputs, weight.t())

    @staticmethod
    @once_differentiable  # the backward is not itself differentiated: refuse, not mislead
    def backward(ctx, grad):
        weight, inputs = ctx.saved_tensors
        grad_weight = grad.t().mm(inputs) if ctx.needs_input_grad[0] else None
        grad_bias = grad.sum(0) if ctx.needs_input_grad[1] else None
        grad_hidden: tuple = ()
        if ctx.widths:
            grad_inputs = grad.mm(weight[:, : sum(ctx.widths)])
            grad_hidden = tuple(grad_inputs.split(ctx.widths, dim=1))
        return (grad_weight, grad_bias, None, *grad_hidden)
