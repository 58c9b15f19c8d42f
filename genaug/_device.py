"""Choice of the torch device."""

from __future__ import annotations

import torch

from genaug.exceptions import InvalidParameterError


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Return the torch device for ``device``.

    ``"auto"`` (or ``None``) picks CUDA when a GPU is visible and the CPU otherwise; any other
    value is passed to ``torch.device`` and must name a device that exists.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidParameterError(f"device={device!r} is not a torch device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(
            f"device={device!r} asks for CUDA, but no GPU is visible; use device='auto' or 'cpu'."
        )
    if dev.type not in ("cpu", "cuda"):
        # Other backends (mps, xpu...): a one-element tensor tells whether this build and
        # machine have the device, where torch would otherwise fail deep inside fit.
        try:
            if dev.type == "meta":
                raise RuntimeError("meta tensors hold no data")
            torch.empty(1, device=dev)
        except (RuntimeError, AssertionError, NotImplementedError) as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
            raise InvalidParameterError(
                f"device={device!r} is not available here ({reason}); use device='auto' or "
                "'cpu'."
            ) from exc
    return dev


def check_precision(precision: str, device: torch.device, owner: str) -> None:
    """Refuse ``precision="bfloat16"`` on a device where autocast cannot run it.

    The CPU always can (natively with AVX-512 BF16 or AMX, emulated and slower otherwise);
    a GPU needs bfloat16 support (NVIDIA Ampere or newer).
    """
    if precision != "bfloat16":
        return
    if device.type == "cpu":
        return
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return
    raise InvalidParameterError(
        f"{owner}(precision='bfloat16') cannot run on {device}: it has no bfloat16 support. "
        "Use precision='float32' there."
    )
