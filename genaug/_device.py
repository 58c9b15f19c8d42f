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
    return dev
