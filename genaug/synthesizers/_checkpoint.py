"""Training checkpoints: write the state of a running ``fit``, find it again, and resume.

A checkpoint is a folder ``checkpoint_dir/epoch-NNNNNN`` written with
:func:`genaug.io.atomic_write_dir` (a temporary folder renamed into place), so a folder of
that name is always complete; a run killed while writing leaves a hidden ``.epoch-*.tmp``
folder, which is ignored and removed by the next write. A new checkpoint gets a new name and
the older ones are deleted only after it is in place, so at every instant at least one whole
checkpoint exists once the first has been written.

The folder holds

``config.json``
    The model's ``save()`` config (parameters, codec, labels, history...) plus a
    ``"checkpoint"`` object: the epoch reached, whether training had asked to stop, the seed,
    the fingerprint of the data and parameters, the non-tensor part of every optimizer's state
    and the family's in-training state (early stopping).
``model.safetensors``
    The networks' weights at that epoch, exactly as ``save()`` writes them, so that
    ``genaug.load(folder)`` gives the model as it was after that epoch.
``training.safetensors``
    The optimizers' tensors (``optimizer.<name>.<param index>.<key>``), the training
    ``torch.Generator``'s state (``rng.training``) and the family's in-training tensors
    (e.g. the early-stopping best weights, ``best.<network>.<key>``).

Nothing is pickled and nothing is ``torch.load``-ed. The data are not stored: on resume
``fit`` encodes them again (the codec is fitted from the seed, so the encoding is the same
bit for bit), the data's SHA-256 is compared with the checkpoint's, and a mismatch raises.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from genaug import distributed
from genaug._random import resolve_seed
from genaug._version import __version__
from genaug.exceptions import InvalidDataError, InvalidParameterError, ModelFileError
from genaug.io import CONFIG_NAME, FORMAT_VERSION, WEIGHTS_NAME, atomic_write_dir, read_model_folder

CHECKPOINT_FORMAT = 1
TRAINING_NAME = "training.safetensors"
_PREFIX = "epoch-"
_NAME = re.compile(r"^epoch-(\d{6,})$")
# Temporary folders that atomic_write_dir makes for a checkpoint (".epoch-000003.x1y2.tmp")
# and the ".old" names it renames a replaced folder to.
_LEFTOVER = re.compile(r"^\.epoch-\d{6,}\..+\.(tmp|old)$")
# Parameters that may change between the interrupted run and the resumed one: they do not
# affect what is computed (the seed is compared on its own).
_FREE_PARAMS = frozenset({"verbose", "random_state"})


def unwrap(module: nn.Module) -> nn.Module:
    """The module itself, also while a data-parallel wrapper holds it (``.module``)."""
    parallel = (nn.parallel.DistributedDataParallel, nn.DataParallel)
    return module.module if isinstance(module, parallel) else module


def data_fingerprint(encoded: np.ndarray, codes: np.ndarray | None) -> str:
    """SHA-256 of the encoded training rows (shape, dtype and bytes) and their label codes."""
    digest = hashlib.sha256()
    for arr in (encoded, codes):
        if arr is None:
            digest.update(b"none")
            continue
        arr = np.ascontiguousarray(arr)
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        # A memoryview hashes the array in place: no copy of a large training set.
        digest.update(memoryview(arr.reshape(-1)).cast("B"))
    return digest.hexdigest()


def _flatten_optimizer(
    name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """Split an optimizer's state dict into JSON and named tensors (added to ``tensors``)."""
    state_dict = optimizer.state_dict()
    state: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        plain = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{name}.{index}.{key}"] = value
            else:
                plain[key] = value
        state[str(index)] = plain
    groups = []
    for group in state_dict["param_groups"]:
        for key, value in group.items():
            if torch.is_tensor(value):
                raise TypeError(  # pragma: no cover - no genaug optimizer has tensor options
                    f"Optimizer {name!r} has a tensor option {key!r}; checkpoints keep options "
                    "as JSON."
                )
        groups.append(dict(group))
    return {"state": state, "param_groups": groups}


def _restore_optimizer(
    name: str,
    optimizer: torch.optim.Optimizer,
    saved: dict[str, Any],
    tensors: dict[str, torch.Tensor],
) -> None:
    prefix = f"optimizer.{name}."
    state: dict[int, dict[str, Any]] = {}
    for index, plain in saved["state"].items():
        state[int(index)] = dict(plain)
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, field = key[len(prefix) :].split(".", 1)
            state.setdefault(int(index), {})[field] = value
    # JSON turned tuples (Adam's betas) into lists; give each option the type it has now.
    current = optimizer.state_dict()["param_groups"]
    if len(current) != len(saved["param_groups"]):
        raise ValueError(f"optimizer {name!r} has {len(current)} parameter groups")
    groups = []
    for now, old in zip(current, saved["param_groups"]):
        group = dict(old)
        for key, value in now.items():
            if isinstance(value, tuple) and isinstance(group.get(key), list):
                group[key] = tuple(group[key])
        groups.append(group)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


class Checkpointer:
    """Writes and restores the checkpoints of one ``fit`` call.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder of the checkpoints (created when needed).
    every : int
        Write a checkpoint after every ``every``-th epoch.
    resume : bool
        Resume from the newest checkpoint in ``directory`` when there is one; ``False``
        deletes the checkpoints found there and trains from the start.
    model : BaseSynthesizer
        The synthesizer being fitted (its class and parameters are checked against the
        checkpoint).
    """

    def __init__(self, directory: Any, every: Any, resume: Any, model: Any) -> None:
        if not isinstance(directory, (str, Path)) and not hasattr(directory, "__fspath__"):
            raise InvalidParameterError(
                f"checkpoint_dir must be a folder name; got {type(directory).__name__}."
            )
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise InvalidParameterError(
                f"checkpoint_every must be a positive integer; got {every!r}."
            )
        if not isinstance(resume, (bool, np.bool_)):
            raise InvalidParameterError(f"resume must be a bool; got {resume!r}.")
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise InvalidParameterError(
                f"checkpoint_dir={str(self.directory)!r} exists and is not a folder."
            )
        self.every = int(every)
        self.model = model
        self.loaded: dict[str, Any] | None = None
        self.fingerprint: dict[str, Any] | None = None
        if resume:
            self.loaded = self._read_latest()
        elif distributed.is_main_process():
            self._remove(keep=None)

    # ------------------------------------------------------------------ finding
    def _folders(self) -> list[tuple[int, Path]]:
        if not self.directory.is_dir():
            return []
        found = []
        for child in self.directory.iterdir():
            match = _NAME.match(child.name)
            if match and child.is_dir():
                found.append((int(match.group(1)), child))
        return sorted(found)

    def _read_latest(self) -> dict[str, Any] | None:
        folders = self._folders()
        if not folders:
            return None
        path = folders[-1][1]
        config, weights = read_model_folder(path)
        training_path = path / TRAINING_NAME
        if not training_path.is_file():
            raise ModelFileError(
                f"The checkpoint {str(path)!r} lacks {TRAINING_NAME}; delete it or fit with "
                "resume=False."
            )
        try:
            training = load_file(str(training_path), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise ModelFileError(
                f"{training_path} is not a valid safetensors file ({exc}); delete the checkpoint "
                "or fit with resume=False."
            ) from exc
        info = config.get("checkpoint")
        if (
            not isinstance(info, dict)
            or info.get("format") != CHECKPOINT_FORMAT
            or config.get("format_version") != FORMAT_VERSION
        ):
            raise ModelFileError(
                f"{path / CONFIG_NAME} is not a genaug checkpoint of format {CHECKPOINT_FORMAT}; "
                "delete it or fit with resume=False."
            )
        return {"path": path, "config": config, "weights": weights, "training": training}

    @property
    def resuming(self) -> bool:
        """Whether ``fit`` continues from a checkpoint."""
        return self.loaded is not None

    def seed(self, random_state: Any) -> int:
        """The seed of the fit: the checkpoint's, unless ``random_state`` names another one."""
        if self.loaded is None:
            return resolve_seed(random_state)
        saved = int(self.loaded["config"]["checkpoint"]["seed"])
        if random_state is None or not isinstance(random_state, (int, np.integer)):
            # An unseeded run (or one seeded by a numpy Generator) resumes with the seed that
            # the interrupted run drew; drawing a fresh one would change the data's encoding.
            return saved
        seed = resolve_seed(random_state)
        if seed != saved:
            raise InvalidParameterError(
                f"The checkpoint in {str(self.loaded['path'])!r} was written with "
                f"random_state={saved}, but this fit has random_state={seed}. Use the same seed "
                "to resume, or fit with resume=False to start over."
            )
        return seed

    # ------------------------------------------------------------------ checks
    def bind(self, encoded: np.ndarray, codes: np.ndarray | None) -> None:
        """Record the fingerprint of this fit and compare it with the checkpoint's."""
        model = self.model
        params = {
            k: v for k, v in model._json_params().items() if k not in _FREE_PARAMS
        }
        self.fingerprint = {
            "class": type(model).__name__,
            "params": params,
            "data": data_fingerprint(encoded, codes),
            "device_type": model.device_.type,
        }
        if self.loaded is None:
            return
        where = str(self.loaded["path"])
        saved = self.loaded["config"]["checkpoint"].get("fingerprint")
        if not isinstance(saved, dict):
            raise ModelFileError(f"The checkpoint {where!r} lacks its fingerprint.")
        if saved.get("class") != self.fingerprint["class"]:
            raise InvalidParameterError(
                f"The checkpoint {where!r} belongs to a {saved.get('class')}, not to a "
                f"{self.fingerprint['class']}; use another checkpoint_dir or resume=False."
            )
        old_params = saved.get("params") or {}
        changed = sorted(
            k for k in set(params) | set(old_params) if params.get(k) != old_params.get(k)
        )
        if changed:

            def was(k: str) -> str:
                # A parameter added since the checkpoint was written is not in it.
                return repr(old_params[k]) if k in old_params else "<not in the checkpoint>"

            shown = ", ".join(f"{k}={was(k)} (now {params.get(k)!r})" for k in changed[:5])
            raise InvalidParameterError(
                f"The checkpoint {where!r} was written with other parameters: {shown}. Resume "
                "with the same parameters, or fit with resume=False to start over."
            )
        if saved.get("data") != self.fingerprint["data"]:
            raise InvalidDataError(
                f"The data differ from those the checkpoint {where!r} was trained on (their "
                "encoded rows or labels have another SHA-256). Resume with the same X and y, "
                "or fit with resume=False to start over."
            )
        if saved.get("device_type") != self.fingerprint["device_type"]:
            raise InvalidParameterError(
                f"The checkpoint {where!r} was written training on a "
                f"{saved.get('device_type')} device, and this fit runs on "
                f"{self.fingerprint['device_type']}; the random generator's state does not "
                "carry over. Resume on the same kind of device, or fit with resume=False."
            )

    # ------------------------------------------------------------------ restore
    def restore(
        self, optimizers: dict[str, torch.optim.Optimizer], generator: torch.Generator
    ) -> int:
        """Put the checkpoint's state into the model, optimizers and generator.

        Returns
        -------
        int
            Epochs completed in the checkpoint.
        """
        loaded = self.loaded
        where = str(loaded["path"])
        info = loaded["config"]["checkpoint"]
        model = self.model
        try:
            for name, module in model._modules().items():
                prefix = name + "."
                sub = {
                    k[len(prefix) :]: v for k, v in loaded["weights"].items()
                    if k.startswith(prefix)
                }
                unwrap(module).load_state_dict(sub, strict=True)
            if set(info["optimizers"]) != set(optimizers):
                raise ValueError(f"optimizers {sorted(info['optimizers'])}")
            for name, optimizer in optimizers.items():
                _restore_optimizer(name, optimizer, info["optimizers"][name], loaded["training"])
            generator.set_state(loaded["training"]["rng.training"])
            history = loaded["config"]["state"]["history"]
            if not isinstance(history, dict) or not isinstance(history.get("epoch"), list):
                raise ValueError("history")
            model.history_ = {k: list(v) for k, v in history.items()}
            model._load_checkpoint_state(info["training"], loaded["training"])
            epoch = int(info["epoch"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            raise ModelFileError(
                f"The checkpoint {where!r} does not match this model or is damaged ({exc!r}); "
                "delete it or fit with resume=False."
            ) from exc
        if not 0 < epoch < model.epochs:
            raise ModelFileError(
                f"The checkpoint {where!r} names epoch {epoch}, outside 1..{model.epochs - 1}."
            )
        # The checkpoint's tensors are not needed any more; free them before training.
        self.loaded = None
        return epoch

    # ------------------------------------------------------------------ write
    def due(self, epoch: int, stop: bool) -> bool:
        """Whether a checkpoint is written after ``epoch`` (1-based).

        Not after the last epoch, nor when training stops early: the fit is about to finish
        and delete its checkpoints, and a run killed in between resumes from the previous
        checkpoint and reaches the same end.
        """
        return epoch % self.every == 0 and not stop and epoch < self.model.epochs

    def save(
        self,
        epoch: int,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> Path | None:
        """Write the checkpoint of ``epoch`` and delete the older ones (main process only)."""
        if not distributed.is_main_process():
            return None
        model = self.model
        training: dict[str, torch.Tensor] = {"rng.training": generator.get_state()}
        optimizer_state = {
            name: _flatten_optimizer(name, opt, training) for name, opt in optimizers.items()
        }
        extra_json, extra_tensors = model._checkpoint_state()
        training.update(extra_tensors)
        weights = {
            f"{name}.{key}": value
            for name, module in model._modules().items()
            for key, value in unwrap(module).state_dict().items()
        }
        config = {
            "format_version": FORMAT_VERSION,
            "genaug_version": __version__,
            "class": type(model).__name__,
            "params": model._json_params(),
            "state": model._state(),
            "checkpoint": {
                "format": CHECKPOINT_FORMAT,
                "epoch": int(epoch),
                "seed": int(model.seed_),
                "fingerprint": self.fingerprint,
                "optimizers": optimizer_state,
                "training": extra_json,
            },
        }

        def write(tmp: Path) -> None:
            (tmp / CONFIG_NAME).write_text(
                json.dumps(config, indent=1, allow_nan=False), encoding="utf-8"
            )
            for file, tensors in ((WEIGHTS_NAME, weights), (TRAINING_NAME, training)):
                save_file(
                    # clone(): safetensors refuses tensors that share memory (a view of a
                    # parameter, a state entry aliasing another).
                    {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()},
                    str(tmp / file),
                    metadata={"format": "pt", "genaug_checkpoint_format": str(CHECKPOINT_FORMAT)},
                )

        path = self.directory / f"{_PREFIX}{epoch:06d}"
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_dir(path, write)
        self._remove(keep=path)
        return path

    def finish(self) -> None:
        """After a successful fit: delete the checkpoints (the folder itself stays)."""
        if distributed.is_main_process():
            self._remove(keep=None)

    def _remove(self, keep: Path | None) -> None:
        """Delete checkpoint folders (all but ``keep``) and leftovers of interrupted writes."""
        if not self.directory.is_dir():
            return
        for _, path in self._folders():
            if path != keep:
                shutil.rmtree(path, ignore_errors=True)
        for child in self.directory.iterdir():
            if _LEFTOVER.match(child.name) and child.is_dir():
                shutil.rmtree(child, ignore_errors=True)


def score_to_json(value: float) -> float | None:
    """A score for JSON: ``None`` stands for infinity (strict JSON has no ``Infinity``)."""
    return None if math.isinf(value) else float(value)


def score_from_json(value: Any) -> float:
    """Inverse of :func:`score_to_json`."""
    return math.inf if value is None else float(value)
