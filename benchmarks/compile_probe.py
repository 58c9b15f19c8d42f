"""Does ``torch.compile`` pay for the VAE's training step on this CPU?

The VAE's epoch on Adult is dominated by small element-wise operators and their gradients
(see ``benchmarks/profile_ops.py``), which is what operator fusion should remove. This probe
runs the VAE's own training step (encoder, reparameterisation, decoder, ELBO over the span
layout, Adam) on Adult at batch 500, eager and under ``torch.compile``, and reports the
seconds per epoch of each and the one-off compile time, so that the break-even number of
epochs can be read off. Compilation runs against an empty inductor cache in a temporary folder,
as a user's first fit would; a warm cache (a second run on the same machine) compiles in a
fraction of that time.

    python benchmarks/compile_probe.py --out benchmarks/results   # compile_probe.json and .md
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genaug import VAESynthesizer
from genaug.bench._common import machine_description, markdown_table, write_json, write_text
from genaug.datasets import load_adult
from genaug.models.vae import elbo_loss, reparameterize
from genaug.nn.conv import join_inputs

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500


def _epoch(step: Callable, data: torch.Tensor, labels: torch.Tensor, opt, gen) -> float:
    perm = torch.randperm(len(data), generator=gen)
    start = time.perf_counter()
    for i in range(0, len(data) - BATCH + 1, BATCH):
        idx = perm[i : i + BATCH]
        loss = step(data[idx], labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def probe(threads: int, epochs: int, seed: int) -> dict[str, Any]:
    """Time ``epochs`` eager and ``epochs`` compiled epochs of the default VAE on Adult."""
    torch.set_num_threads(threads)
    X, y = load_adult(return_X_y=True)
    model = VAESynthesizer(epochs=1, batch_size=BATCH, random_state=seed, device="cpu")
    model.fit(X, y)  # builds the codec, the layout and the networks at their default sizes
    data = torch.as_tensor(model.codec_.transform(X), dtype=torch.float32)
    codes = torch.as_tensor(model.classes_.searchsorted(y.to_numpy()))
    labels = torch.nn.functional.one_hot(codes, len(model.classes_)).float()
    params = [p for net in (model.encoder_, model.decoder_, model.prior_) for p in net.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    gen = torch.Generator().manual_seed(seed)

    def step(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mu, logvar = model.encoder_(join_inputs(x, c)).chunk(2, dim=1)
        z = reparameterize(mu, logvar, gen)
        recon = model.decoder_(join_inputs(z, c))
        loss, _ = elbo_loss(
            recon, x, mu, logvar, model.decoder_.log_sigma, model.layout_, 1.0, model.prior_(c)
        )
        return loss

    _epoch(step, data, labels, opt, gen)  # warm-up
    eager = [_epoch(step, data, labels, opt, gen) for _ in range(epochs)]
    start = time.perf_counter()
    compiled = torch.compile(step, dynamic=False)
    first = _epoch(compiled, data, labels, opt, gen)
    first_wall = time.perf_counter() - start
    fused = [_epoch(compiled, data, labels, opt, gen) for _ in range(epochs)]
    eager_s, fused_s = statistics.median(eager), statistics.median(fused)
    compile_s = first_wall - fused_s
    saving = eager_s - fused_s
    return {
        "eager_s_per_epoch": eager,
        "compiled_s_per_epoch": fused,
        "first_compiled_epoch_s": first,
        "compile_overhead_s": compile_s,
        "speedup": eager_s / fused_s,
        "break_even_epochs": compile_s / saving if saving > 0 else None,
    }


def _markdown(result: dict[str, Any]) -> str:
    r, m = result["result"], result["machine"]
    be = r["break_even_epochs"]
    rows = [
        ["eager, s per epoch (median)", f"{statistics.median(r['eager_s_per_epoch']):.3f}"],
        ["compiled, s per epoch (median)", f"{statistics.median(r['compiled_s_per_epoch']):.3f}"],
        ["speed-up per epoch", f"{r['speedup']:.2f}x"],
        ["one-off compile time (s)", f"{r['compile_overhead_s']:.1f}"],
        ["epochs to break even", "never" if be is None else f"{be:.0f}"],
    ]
    return (
        "# torch.compile probe: the VAE's training step\n\n"
        f"Adult (32,561 rows), batch {BATCH}, default VAE, torch threads {result['threads']}, "
        f"{result['epochs']} timed epochs each, seed {result['seed']}. Machine: {m['cpu']}, "
        f"{m['cpu_count']} CPUs, torch {m['torch']}.\n\n"
        f"Command: `{result['command']}`\n\n" + markdown_table(["", "value"], rows) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = {
        "command": f"python benchmarks/compile_probe.py --threads {args.threads} "
        f"--epochs {args.epochs} --out {args.out}",
        "threads": args.threads,
        "epochs": args.epochs,
        "seed": args.seed,
        "machine": machine_description(),
    }
    # Inductor looks its cache folder up when it compiles: an empty one gives a cold compile.
    with tempfile.TemporaryDirectory(prefix="genaug-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        result["result"] = probe(args.threads, args.epochs, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "compile_probe.json", result)
    text = _markdown(result)
    write_text(args.out / "compile_probe.md", text)
    print(text)


if __name__ == "__main__":
    main()
