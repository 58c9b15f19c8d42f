"""The GAN's TSTR along one long fit on Adult: does quality hold as the epochs go on?

One ``GANSynthesizer`` per seed is fitted on the training part of Adult (the split of
``tabular_models.py``) for ``--epochs`` epochs; every ``--every`` epochs the fit pauses, the
model samples as many rows as the training part has (a fixed sampling seed, so only the
weights differ between checks), and a gradient-boosting classifier trained on them is scored
on the real held-out rows (TSTR macro-F1 and ROC-AUC, as in ``tabular_models.py``). Sampling
does not touch the training's random stream, so the fit is the one an uninterrupted fit of
that seed would make. ``--set`` changes parameters from the defaults (for example
``generator_ema=0.0,classifier_weight_decay=1e-6`` for the GAN as it was before either).

``--validation`` fits with early stopping on (``validation_metric="utility"``, a patience that
never stops it), so 10 % of the training part is held out, and adds at each check the scores
early stopping could watch on that slice: the utility ROC-AUC it uses (gradient boosting
trained on 5,000 class-balanced synthetic rows, encoded), the same with a logistic regression,
and the detection AUC of ``validation_metric="detection"``. Which of them follows the TSTR on
the test rows is what decides a criterion.

    python benchmarks/gan_epochs.py --epochs 300 --every 50 --seeds 0,1 --threads 2
    python benchmarks/gan_epochs.py --epochs 200 --every 20 --seeds 0 --validation \\
        --out benchmarks/results/gan_epochs_validation

Results go to ``benchmarks/results/gan_epochs.json`` and ``.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tabular_models import _split, _tstr

from genaug import GANSynthesizer
from genaug.bench._common import machine_description, markdown_table, write_results

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "gan_epochs"
SAMPLE_SEED = 123
VALIDATION_NOTE = (
    "With `--validation`, early stopping's hold-out (10 % of the training part, not trained "
    "on; the fit never stops) gives three more columns per seed: the utility ROC-AUC that "
    "`validation_metric='utility'` watches (gradient boosting on 5,000 class-balanced "
    "synthetic rows, encoded, scored on the held-out rows' labels; higher is better), the "
    "same with a logistic regression, and the detection AUC that "
    "`validation_metric='detection'` watches (lower is better). "
)


def parse_settings(text: str) -> dict[str, Any]:
    """``"a=1,b=0.5"`` -> ``{"a": 1, "b": 0.5}`` (values as Python literals)."""
    settings: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        settings[key.strip()] = ast.literal_eval(value.strip())
    return settings


def _validation_scores(model: GANSynthesizer, seed: int) -> dict[str, float]:
    """The held-out slice's scores at this check (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from genaug.synthesizers._mixins import MAX_VALIDATION_ROWS

    state = model._validation
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(MAX_VALIDATION_ROWS) % len(model.classes_)
    fake = model._validation_rows(MAX_VALIDATION_ROWS, labels, generator, seed).numpy()
    logistic = LogisticRegression(max_iter=1000).fit(fake, labels.numpy())
    one_hot = np.eye(len(model.classes_))[state["labels"]]
    with_labels = {**state, "real": np.hstack([state["real"], one_hot])}
    return {
        "validation_utility_auc": model.history_["validation_utility_auc"][-1],
        "validation_logistic_auc": float(
            roc_auc_score(state["labels"], logistic.predict_proba(state["real"])[:, 1])
        ),
        "validation_detection_auc": model._detection_auc(with_labels, generator, seed),
    }


def curve(
    seed: int, epochs: int, every: int, split: dict, settings: dict, validation: bool = False
) -> list[dict]:
    """TSTR every ``every`` epochs of one fit (and the held-out slice's scores)."""
    checks: list[dict] = []
    if validation:
        settings = {
            **settings,
            "early_stopping": True,
            "validation_metric": "utility",
            "validation_every": every,
            "patience": epochs + 1,
        }

    # A leading underscore keeps the subclass out of genaug's registry of model classes.
    class _Checked(GANSynthesizer):
        def _on_epoch_end(self, epoch: int, losses: dict[str, float]) -> bool:
            stop = super()._on_epoch_end(epoch, losses)
            if epoch % every == 0 or epoch == epochs:
                X_syn, y_syn = self.sample(len(split["X_train"]), random_state=SAMPLE_SEED)
                scores = _tstr(
                    X_syn, y_syn, split["X_test"], split["y_test"], split["categories"], seed
                )
                loss = losses.get("classifier")
                if validation:
                    scores.update(_validation_scores(self, seed))
                checks.append({"epoch": epoch, **scores, "classifier_loss": loss})
                print(
                    f"seed {seed}, epoch {epoch}: macro-F1 {scores['tstr_macro_f1']:.3f}, "
                    f"ROC-AUC {scores['tstr_roc_auc']:.3f}",
                    flush=True,
                )
            return stop

    _Checked(epochs=epochs, random_state=seed, **settings).fit(split["X_train"], split["y_train"])
    return checks


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--set", default="", help="parameters to change, e.g. generator_ema=0.0")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--validation", action="store_true", help="also the early-stopping slice's scores"
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="path without extension")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = parse_settings(args.set)
    seeds = [int(v) for v in args.seeds.split(",")]
    started = time.perf_counter()
    split = _split(0, 0.3)
    results = {
        seed: curve(seed, args.epochs, args.every, split, settings, args.validation)
        for seed in seeds
    }
    epochs = [c["epoch"] for c in results[seeds[0]]]
    columns = ["tstr"]
    if args.validation:
        columns += ["validation_utility_auc", "validation_logistic_auc", "validation_detection_auc"]

    def cells(c: dict) -> list[str]:
        text = [f"{c['tstr_macro_f1']:.3f} / {c['tstr_roc_auc']:.3f}"]
        return text + [f"{c[k]:.3f}" for k in columns[1:]]

    rows = [
        [
            epoch,
            *(v for seed in seeds for c in results[seed] if c["epoch"] == epoch for v in cells(c)),
        ]
        for epoch in epochs
    ]
    header = ["epoch"]
    for seed in seeds:
        if args.validation:
            header += [
                f"seed {seed}: test TSTR",
                "held-out utility AUC",
                "held-out logistic AUC",
                "held-out detection AUC",
            ]
        else:
            header.append(f"seed {seed}")
    command = (
        f"python benchmarks/gan_epochs.py --epochs {args.epochs} --every {args.every} "
        f"--seeds {args.seeds}"
        + (f" --set {args.set}" if args.set else "")
        + (f" --threads {args.threads}" if args.threads else "")
        + (" --validation" if args.validation else "")
        + (f" --out {args.out}" if args.out != str(DEFAULT_OUT) else "")
    )
    payload = {
        "benchmark": "gan_epochs",
        "settings": settings,
        "epochs": args.epochs,
        "every": args.every,
        "seeds": seeds,
        "curves": {str(seed): checks for seed, checks in results.items()},
        "machine": machine_description(),
        "seconds": time.perf_counter() - started,
        "command": command,
    }
    text = (
        "# The GAN's TSTR along one fit (Adult)\n\n"
        f"Default GANSynthesizer{' with ' + args.set if args.set else ''}; 22,792 training rows, "
        "9,769 held out (the split of `tabular_models.py`). Each cell: TSTR macro-F1 / ROC-AUC "
        "of a HistGradientBoostingClassifier trained on as many synthetic rows as the training "
        f"part has (sampling seed {SAMPLE_SEED}), scored on the real held-out rows. "
        + (VALIDATION_NOTE if args.validation else "")
        + f"Machine: {payload['machine'].get('cpu', '')}; {payload['seconds'] / 60:.1f} min.\n\n"
        + markdown_table(header, rows)
        + f"\n\nCommand: `{command}`\n"
    )
    write_results(args.out, payload, text)
    return payload


if __name__ == "__main__":
    main()
