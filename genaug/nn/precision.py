"""What stays in float32 when a synthesizer trains or samples with ``precision="bfloat16"``.

Under ``torch.autocast`` with bfloat16, matrix products and convolutions run in bfloat16
(8 bits of mantissa; on CPUs with AVX-512 BF16 about 2.7x the float32 rate for a
500 x 506 x 256 product, measured on the 2-core dev box), while reductions, ``exp`` and
``log`` stay in float32. The output layer of a table network is kept in float32 too: its
outputs are the generated values themselves (a continuous column's normal score, a category's
logit), and three significant digits there would show as noise in the sampled data.
"""

from __future__ import annotations

import torch
from torch import nn


def full_precision(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` in float32, also inside an autocast region.

    Parameters
    ----------
    layer : nn.Module
        Usually an output ``nn.Linear``.
    x : Tensor
        Its input, of any floating dtype.

    Returns
    -------
    Tensor
        float32 output (the dtype of ``layer``'s parameters).
    """
    with torch.autocast(x.device.type, enabled=False):
        return layer(x.float())


def autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype an enclosing ``torch.autocast`` region runs in on ``device_type``, or None.

    Parameters
    ----------
    device_type : str
        ``"cpu"``, ``"cuda"``...

    Returns
    -------
    torch.dtype or None
        None when autocast is off there.
    """
    if hasattr(torch, "get_autocast_dtype"):
        if not torch.is_autocast_enabled(device_type):
            return None
        return torch.get_autocast_dtype(device_type)
    # torch < 2.4 has the per-device functions only.
    if device_type == "cpu":
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
    return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None
