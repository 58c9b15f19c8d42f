"""Seeds and local random generators.

genaug never seeds or draws from a global generator (torch's, numpy's legacy one, or
Python's ``random``): every random draw goes through a
``torch.Generator`` or ``numpy.random.Generator`` made here from an integer seed.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from genaug.exceptions import InvalidParameterError

_SEED_BOUND = 2**63 - 1


def resolve_seed(random_state: object, argument: str = "random_state") -> int:
    """Turn a user's ``random_state`` into a non-negative integer seed.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` draws fresh entropy from the operating system; an integer is used as it is;
        a numpy generator gives one draw from itself (the caller's own generator, not a global).
    argument : str
        Name used in the error message.

    Returns
    -------
    int
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % _SEED_BOUND)
    if isinstance(random_state, (bool, np.bool_)):
        raise InvalidParameterError(f"{argument} must be an integer or None; got a bool.")
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise InvalidParameterError(f"{argument} must be non-negative; got {random_state}.")
        if random_state >= _SEED_BOUND:  # torch's generators take signed 64-bit seeds
            raise InvalidParameterError(
                f"{argument} must be below 2**63 - 1; got {random_state}."
            )
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_SEED_BOUND))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise InvalidParameterError(
        f"{argument} must be None, an integer or a numpy Generator; "
        f"got {type(random_state).__name__}."
    )


def derive_seed(seed: int, *keys: int) -> int:
    """A seed that depends only on ``seed`` and ``keys``, independent of the other derived ones."""
    seq = np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(int(k) for k in keys))
    return int(seq.generate_state(1, dtype=np.uint64)[0] % _SEED_BOUND)


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (the global one is untouched)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen
