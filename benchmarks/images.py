"""VAE, GAN and VAE-GAN on images at the same CPU time budget: class consistency,
sharpness, diversity and downstream accuracy.

Data: the 10,000 MNIST test digits of ``../shared/data/mnist_test_10k.npz`` (see
``../shared/DATASETS.md``), split once (stratified, seeded) into 8,000 training and 2,000
evaluation images. Every synthesizer is conditioned on the digit and trained on the training
images for the same budget of CPU time (it stops after the epoch that crosses it). The budget
counts the process's CPU seconds (``time.process_time``, one torch thread), which equal wall
seconds on an idle core: on a shared machine wall time would hand each model whatever the
other jobs leave it. Wall seconds are reported too.

A small CNN (the *judge*) is trained on the real training images; on the real evaluation
images it reaches the accuracy reported as ``judge accuracy``. With 100 conditional samples per
class from each synthesizer:

class consistency
    the judge's accuracy on the samples, against the class they were drawn for;
sharpness
    mean over images of the variance of the Laplacian (pixels in [0, 1]), and its ratio to the
    real evaluation images' (1 = as sharp as real digits; blur lowers it);
diversity
    precision, recall, density and coverage (``genaug.metrics.manifold_metrics`` with
    ``features=True``) between the samples and the real evaluation images in the judge's
    penultimate-layer features, overall and averaged over the classes (each class against its
    own real images).

Downstream: ``k`` real training images per class (k = 10 and 50) are drawn; each synthesizer is
fitted on those images only (``--downstream-budget`` seconds) and adds ``--synthetic-per-class``
images per class; a fresh CNN of the judge's architecture is trained for the same number of
steps on the real images alone and on real + synthetic, and scored on the 2,000 real evaluation
images.

Usage (from the repository root)::

    python benchmarks/images.py                 # 120 CPU s per synthesizer, about 20 CPU min
    python benchmarks/images.py --quick         # a short configuration, about 5 CPU min

Results go to ``benchmarks/results/images.json`` and ``.md``, with one grid of samples per
synthesizer (``images_<model>.png``, a row per digit) and ``images_real.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import genaug
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug._random import derive_seed, torch_generator
from genaug.metrics import manifold_metrics
from genaug.nn.init import init_parameters

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist_test_10k.npz"
DEFAULT_OUT = REPO / "benchmarks" / "results"
MODELS = {"vae": VAESynthesizer, "gan": GANSynthesizer, "vaegan": VAEGANSynthesizer}
# The same small widths for every family, so that the budget buys comparable networks.
WIDTH = 32
PARAMS = {
    "vae": {"encoder_hidden": (WIDTH,), "decoder_hidden": (WIDTH,), "latent_dim": 32},
    "gan": {"generator_hidden": (WIDTH,), "discriminator_hidden": (WIDTH,), "latent_dim": 32},
    "vaegan": {
        "encoder_hidden": (WIDTH,),
        "decoder_hidden": (WIDTH,),
        "discriminator_hidden": (WIDTH,),
        "latent_dim": 32,
    },
}
MAX_EPOCHS = 100_000
FULL = {
    "budget": 120.0,
    "downstream_budget": 40.0,
    "k": [10, 50],
    "samples_per_class": 100,
    "synthetic_per_class": 200,
    "judge_steps": 1500,
    "cnn_steps": 600,
}
QUICK = {
    "budget": 20.0,
    "downstream_budget": 10.0,
    "k": [10],
    "samples_per_class": 50,
    "synthetic_per_class": 50,
    "judge_steps": 400,
    "cnn_steps": 200,
}


# ---------------------------------------------------------------------------- data
def load_mnist(path: Path, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """8,000 training and 2,000 evaluation digits (uint8 N x 28 x 28), stratified."""
    if not path.is_file():
        sys.exit(
            f"benchmarks/images.py needs the MNIST test digits at {path} (see "
            "../shared/DATASETS.md); pass --data PATH to an .npz with uint8 arrays 'x' and 'y'."
        )
    with np.load(path) as data:
        x, y = data["x"], data["y"].astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):  # 20% of each class (a loop over the 10 classes)
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: round(0.2 * idx.size)]] = True
    return x[~test], y[~test], x[test], y[test]


def per_class_subset(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [rng.permutation(np.flatnonzero(y == c))[:k] for c in np.unique(y)]
    )


# ---------------------------------------------------------------------------- CNN
class SmallCNN(nn.Module):
    """28 x 28 digits -> 10 logits; ``features`` is the 128-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.out = nn.Linear(128, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 32, 14, 14)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 64, 7, 7)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def as_input(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def train_cnn(images: np.ndarray, labels: np.ndarray, steps: int, seed: int) -> SmallCNN:
    gen = torch_generator(seed)
    with torch.random.fork_rng(devices=[]):
        model = SmallCNN()
    init_parameters(model, gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = as_input(images), torch.from_numpy(labels)
    batch = min(64, len(y))
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(y), (batch,), generator=gen)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: SmallCNN, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and penultimate features, 1,000 images at a time."""
    x = as_input(images)
    feats = torch.cat([model.features(x[i : i + 1000]) for i in range(0, len(x), 1000)])
    return model.out(feats).argmax(1).numpy(), feats.numpy()


# ---------------------------------------------------------------------------- metrics
def laplacian_variance(images: np.ndarray) -> float:
    """Mean over images of the variance of the 3x3 Laplacian (pixels in [0, 1])."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])[None, None]
    lap = F.conv2d(as_input(images), kernel)
    return float(lap.flatten(1).var(dim=1).mean())


def diversity(real_f, real_y, syn_f, syn_y, seed: int) -> dict[str, Any]:
    overall = manifold_metrics(real_f, syn_f, features=True, k=5, random_state=seed)
    per_class = {
        int(c): manifold_metrics(
            real_f[real_y == c], syn_f[syn_y == c], features=True, k=5, random_state=seed
        )
        for c in np.unique(real_y)  # a loop over the 10 classes
    }
    macro = {m: float(np.mean([v[m] for v in per_class.values()])) for m in overall}
    worst = min(per_class, key=lambda c: per_class[c]["coverage"])
    return {"overall": overall, "per_class_mean": macro, "per_class": per_class,
            "worst_coverage_class": worst}


# ---------------------------------------------------------------------------- fitting
def fit_budgeted(name: str, X: np.ndarray, y: np.ndarray, budget: float, seed: int):
    """Fit a synthesizer until the epoch that crosses ``budget`` CPU seconds ends.

    Returns the synthesizer, its CPU seconds, wall seconds and epochs.
    """
    base = MODELS[name]

    class _Budgeted(base):  # a name with "_" stays out of genaug's registry
        def _prepare_training(self, data, cond, generator):
            self._started = time.process_time()
            return super()._prepare_training(data, cond, generator)

        def _on_epoch_end(self, epoch, losses):
            stop = super()._on_epoch_end(epoch, losses)
            return stop or time.process_time() - self._started >= budget

    syn = _Budgeted(epochs=MAX_EPOCHS, batch_size=64, random_state=seed, device="cpu",
                    **PARAMS[name])
    cpu, wall = time.process_time(), time.perf_counter()
    syn.fit(X, y)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return syn, cpu, wall, len(syn.history_["epoch"])


def sample_per_class(syn, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    counts = {c: per_class for c in syn.classes_}
    images, labels = syn.sample(per_class * len(counts), y=counts, random_state=seed)
    return images, np.asarray(labels, dtype=np.int64)


def save_grid(images: np.ndarray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genaug.plot import image_grid

    ax = image_grid(images, ncols=10)
    ax.set_title(title, fontsize=8)
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(ax.figure)


# ---------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    x_tr, y_tr, x_te, y_te = load_mnist(Path(args.data), args.seed)
    log = print
    log(f"train {len(y_tr)}, test {len(y_te)} digits; {args.budget} CPU s per synthesizer")

    judge = train_cnn(x_tr, y_tr, args.judge_steps, derive_seed(args.seed, 1))
    pred_te, feat_te = predict(judge, x_te)
    judge_acc = float((pred_te == y_te).mean())
    real_sharp = laplacian_variance(x_te)
    log(f"judge accuracy {judge_acc:.4f}; real sharpness {real_sharp:.4f}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid_idx = np.concatenate([np.flatnonzero(y_te == c)[:10] for c in range(10)])
    save_grid(x_te[grid_idx], out_dir / "images_real.png", "real MNIST (evaluation split)")
    real_div = diversity(feat_te[: len(y_te) // 2], y_te[: len(y_te) // 2],
                         feat_te[len(y_te) // 2 :], y_te[len(y_te) // 2 :], args.seed)

    models: dict[str, Any] = {}
    for name in args.models:
        syn, fit_s, wall_s, epochs = fit_budgeted(
            name, x_tr, y_tr, args.budget, derive_seed(args.seed, 2)
        )
        t0 = time.perf_counter()
        images, labels = sample_per_class(syn, args.samples_per_class, derive_seed(args.seed, 3))
        sample_s = time.perf_counter() - t0
        pred, feats = predict(judge, images)
        sharp = laplacian_variance(images)
        grid = np.concatenate(
            [images[labels == c][:10] for c in range(10)]
        )
        title = f"{type(syn).__mro__[1].__name__}: {epochs} epochs, {fit_s:.0f} CPU s"
        save_grid(grid, out_dir / f"images_{name}.png", title + " (a row per digit)")
        models[name] = {
            "fit_cpu_seconds": fit_s,
            "fit_wall_seconds": wall_s,
            "epochs": epochs,
            "sample_seconds_per_1000": sample_s * 1000 / len(labels),
            "class_consistency": float((pred == labels).mean()),
            "sharpness": sharp,
            "sharpness_ratio": sharp / real_sharp,
            "diversity": diversity(feat_te, y_te, feats, labels, args.seed),
            "final_losses": {k: float(v[-1]) for k, v in syn.history_.items() if k != "epoch"},
        }
        m = models[name]
        log(f"{name}: {epochs} epochs {fit_s:.0f}s, consistency {m['class_consistency']:.3f}, "
            f"sharpness x{m['sharpness_ratio']:.2f}, coverage "
            f"{m['diversity']['overall']['coverage']:.3f}")

    downstream: dict[str, Any] = {}
    for k in args.k:
        subset = per_class_subset(y_tr, k, derive_seed(args.seed, 4, k))
        xs, ys = x_tr[subset], y_tr[subset]
        row: dict[str, Any] = {}
        base = train_cnn(xs, ys, args.cnn_steps, derive_seed(args.seed, 5, k))
        row["real only"] = float((predict(base, x_te)[0] == y_te).mean())
        for name in args.models:
            syn, _, _, epochs = fit_budgeted(
                name, xs, ys, args.downstream_budget, derive_seed(args.seed, 6, k)
            )
            images, labels = sample_per_class(
                syn, args.synthetic_per_class, derive_seed(args.seed, 7, k)
            )
            cnn = train_cnn(np.concatenate([xs, images]), np.concatenate([ys, labels]),
                            args.cnn_steps, derive_seed(args.seed, 5, k))
            row[name] = float((predict(cnn, x_te)[0] == y_te).mean())
            row[f"{name}_epochs"] = epochs
        downstream[str(k)] = row
        log(f"downstream k={k}: {row}")

    return {
        "command": "python benchmarks/images.py " + " ".join(sys.argv[1:]),
        "config": {
            "budget_seconds": args.budget,
            "downstream_budget_seconds": args.downstream_budget,
            "samples_per_class": args.samples_per_class,
            "synthetic_per_class": args.synthetic_per_class,
            "judge_steps": args.judge_steps,
            "cnn_steps": args.cnn_steps,
            "k": args.k,
            "seed": args.seed,
            "params": {n: {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()}
                       for n, p in PARAMS.items()},
            "batch_size": 64,
        },
        "environment": {
            "genaug": genaug.__version__,
            "torch": torch.__version__,
            "threads": args.threads,
            "cpu": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "judge_accuracy": judge_acc,
        "real_sharpness": real_sharp,
        "real_vs_real_diversity": real_div,
        "models": models,
        "downstream": downstream,
        "wall_minutes": (time.perf_counter() - t_start) / 60,
    }


def markdown(r: dict[str, Any]) -> str:
    c = r["config"]
    lines = [
        "# Images: VAE vs GAN vs VAE-GAN on MNIST at the same CPU budget",
        "",
        "Generated by `benchmarks/images.py`; do not edit by hand.",
        "",
        f"Command: `{r['command']}`",
        "",
        f"8,000 training / 2,000 evaluation digits of the MNIST test set; every synthesizer "
        f"conditioned on the digit, batch 64, networks of width {WIDTH} (see `PARAMS`), "
        f"trained for {c['budget_seconds']:.0f} CPU seconds on {r['environment']['threads']} "
        f"thread(s) (the epoch that crosses the budget finishes; CPU time rather than wall time "
        f"because the machine is shared). Judge CNN accuracy on the "
        f"real evaluation digits: {r['judge_accuracy']:.4f}. Run {r['environment']['date']}, "
        f"{r['wall_minutes']:.1f} min in all, on a shared machine.",
        "",
        f"{c['samples_per_class']} samples per class. Consistency: judge accuracy on "
        "conditional samples. Sharpness: variance of the Laplacian relative to real digits "
        f"(real: {r['real_sharpness']:.4f}). Precision/recall/density/coverage: k-NN manifolds "
        "(k = 5) in the judge's features against the real evaluation digits, overall and "
        "(in brackets) averaged over per-class comparisons.",
        "",
        "| model | epochs | CPU s (wall s) | consistency ↑ | sharpness (x real) | precision "
        "| recall | density | coverage | worst-covered digit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rr = r["real_vs_real_diversity"]
    o, p = rr["overall"], rr["per_class_mean"]
    lines.append(
        "| real (half vs half) | - | - | "
        f"{r['judge_accuracy']:.3f} | 1.00 | {o['precision']:.3f} ({p['precision']:.3f}) | "
        f"{o['recall']:.3f} ({p['recall']:.3f}) | {o['density']:.3f} ({p['density']:.3f}) | "
        f"{o['coverage']:.3f} ({p['coverage']:.3f}) | - |"
    )
    for name, m in r["models"].items():
        o, p = m["diversity"]["overall"], m["diversity"]["per_class_mean"]
        lines.append(
            f"| {name} | {m['epochs']} | {m['fit_cpu_seconds']:.0f} "
            f"({m['fit_wall_seconds']:.0f}) | "
            f"{m['class_consistency']:.3f} | "
            f"{m['sharpness']:.4f} (x{m['sharpness_ratio']:.2f}) | "
            f"{o['precision']:.3f} ({p['precision']:.3f}) | {o['recall']:.3f} "
            f"({p['recall']:.3f}) | {o['density']:.3f} ({p['density']:.3f}) | "
            f"{o['coverage']:.3f} ({p['coverage']:.3f}) | "
            f"{m['diversity']['worst_coverage_class']} |"
        )
    names = list(r["models"])
    lines += [
        "",
        "## Downstream: a CNN trained on k real digits per class, with and without synthetic ones",
        "",
        "Each synthesizer is fitted on the k-per-class subset only "
        f"({c['downstream_budget_seconds']:.0f} CPU s), adds {c['synthetic_per_class']} images per "
        "class; the CNN trains for "
        f"{c['cnn_steps']} steps of 64 in every cell. Accuracy on the 2,000 real evaluation "
        "digits.",
        "",
        "| k per class | real only | " + " | ".join(f"+ {n}" for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for k, row in r["downstream"].items():
        lines.append(
            f"| {k} | {row['real only']:.3f} | "
            + " | ".join(f"{row[n]:.3f} ({row[n + '_epochs']} ep.)" for n in names)
            + " |"
        )
    lines += ["", "Sample grids (a row per digit): "
              + ", ".join(f"`images_{n}.png`" for n in names) + ", and `images_real.png`.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--budget", type=float, help="CPU s per synthesizer (120; quick: 20)")
    parser.add_argument("--downstream-budget", type=float, help="CPU s per fit (40; quick: 10)")
    parser.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS))
    parser.add_argument("--k", type=lambda s: [int(v) for v in s.split(",")],
                        help="real images per class downstream (10,50; quick: 10)")
    parser.add_argument("--samples-per-class", type=int)
    parser.add_argument("--synthetic-per-class", type=int)
    parser.add_argument("--judge-steps", type=int)
    parser.add_argument("--cnn-steps", type=int)
    parser.add_argument("--quick", action="store_true", help="a short configuration (~5 CPU min)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print, write no results")
    args = parser.parse_args()
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    result = run(args)
    text = markdown(result)
    print(text)
    if not args.no_write:
        out = Path(args.out)
        (out / "images.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
        (out / "images.md").write_text(text)


if __name__ == "__main__":
    main()
