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


def exact_float32_products(device: torch.device | str) -> bool:
    """Whether float32 matrix products on ``device`` are carried out in float32.

    True on CPU unless oneDNN's float32 math mode is a reduced one (bfloat16, TF32), set by
    ``torch.backends.mkldnn.matmul.fp32_precision``, by a parent setting it inherits
    (``torch.backends.fp32_precision``), or by ``torch.set_float32_matmul_precision`` below
    ``"highest"``. Elsewhere False: a GPU may round the inputs of a float32 product to TF32
    by settings this does not read. Callers use a product as an exact lookup (one-hot rows
    times a table) only where this holds. (Autocast regions are the caller's to leave.)

    Parameters
    ----------
    device : torch.device or str

    Returns
    -------
    bool
    """
    if torch.device(device).type != "cpu":
        return False
    mkldnn = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
    setting = getattr(mkldnn, "fp32_precision", None)
    if setting is not None:
        # Read before the legacy getter, which raises once any per-backend setting is in
        # use (e.g. a GPU user's torch.backends.cuda.matmul.fp32_precision = "tf32"); the
        # legacy setter writes this one too ("medium" -> "bf16").
        return setting in ("ieee", "none")
    return torch.get_float32_matmul_precision() == "highest"


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
