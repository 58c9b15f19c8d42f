"""Hostile model folders: property-based mutations of saved models must make ``genaug.load``
raise a :class:`~genaug.exceptions.GenaugError` (or load a model that samples or raises one),
never another exception, never run code from the file and never allocate without bound; and
the package's sources hold no unsafe deserialisation.

The hypothesis tests run ``EXAMPLES`` examples each (a few hundred in all, well under a minute
on two busy cores); ``test_the_loader_property_tests_ran_their_examples`` checks at the end of
the module that they did.
"""

from __future__ import annotations

import ast
import builtins
import datetime
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import types
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genaug
from genaug import GANSynthesizer, VAEGANSynthesizer, VAESynthesizer
from genaug.exceptions import GenaugError, ModelFileError
from genaug.io import CONFIG_NAME, WEIGHTS_NAME

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = 60
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Every example's peak memory above what it started with: a tiny model needs a few MiB, so a
# header that made the loader trust a declared size of gigabytes would cross this at once.
MAX_EXTRA_RSS = 256 * 2**20
MAX_PYTHON_PEAK = 64 * 2**20
# Names a hostile file may use for a class, a module, a codec or a tensor.
HOSTILE_NAMES = [
    "os.system",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "__import__",
    "builtins.eval",
    "subprocess.Popen",
    "genaug.synthesizers.vae.VAESynthesizer",
    "BaseSynthesizer",
    "BaseSynthesizer.__subclasses__",
    "__class__",
    "VAESynthesizer\x00",
    "vaesynthesizer",
    "",
    "torch.load",
    "pickle.loads",
]

RUNS: Counter[str] = Counter()


# --------------------------------------------------------------------------- fixtures
def _mixed_table(n: int = 60) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "s": rng.choice(["u", "v"], n),
            "m": pd.array(np.where(rng.random(n) < 0.2, pd.NA, rng.integers(0, 9, n)), "Int64"),
            "b": rng.random(n) < 0.5,
            "t": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 99, n), "D"),
            "zero": np.where(rng.random(n) < 0.5, 0.0, rng.normal(size=n)),
        }
    )
    return X, pd.Series(np.where(np.arange(n) % 3 == 0, "yes", "no"), name="label")


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Three tiny saved models: a labelled tabular VAE, an unlabelled tabular GAN and a
    labelled image VAE-GAN (each fitted once for the module)."""
    root = tmp_path_factory.mktemp("saved")
    X, y = _mixed_table()
    images = np.random.default_rng(1).integers(0, 256, (24, 8, 8), dtype=np.uint8)
    models = {
        "vae": VAESynthesizer(
            epochs=1, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,), random_state=0
        ).fit(X, y),
        "gan": GANSynthesizer(
            epochs=1,
            latent_dim=4,
            generator_hidden=(8,),
            discriminator_hidden=(8,),
            batch_size=10,
            random_state=0,
        ).fit(X),
        "image": VAEGANSynthesizer(
            epochs=1,
            latent_dim=4,
            encoder_hidden=(8,),
            decoder_hidden=(8,),
            discriminator_hidden=(8,),
            batch_size=8,
            random_state=0,
        ).fit(images, np.arange(24) % 2),
    }
    paths = {}
    for name, model in models.items():
        paths[name] = root / name
        model.save(paths[name])
        genaug.load(paths[name]).sample(2, random_state=0)  # lazy imports happen here, once
    return paths


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------------- the checker
class CodeRan(AssertionError):
    """Raised by the tripwires below when loading a file reached a code-running function."""


@contextmanager
def _tripwires(names: list[str]) -> Iterator[None]:
    """Fail if anything reaches eval/exec/os.system/subprocess or imports a module named in
    the file while the block runs."""

    def trip(what: str):
        def tripped(*args: Any, **kwargs: Any) -> None:
            raise CodeRan(f"loading a model file called {what}")

        return tripped

    saved = {
        (builtins, "eval"): builtins.eval,
        (builtins, "exec"): builtins.exec,
        (os, "system"): os.system,
        (os, "popen"): os.popen,
        (subprocess, "Popen"): subprocess.Popen,
    }
    before = set(sys.modules)
    for (owner, attr) in saved:
        setattr(owner, attr, trip(f"{owner.__name__}.{attr}"))
    try:
        yield
    finally:
        for (owner, attr), original in saved.items():
            setattr(owner, attr, original)
    imported = set(sys.modules) - before
    named = {n.strip() for n in names if isinstance(n, str)}
    assert not imported & named, f"the file made genaug import {sorted(imported & named)}"


def _rss_peak() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0  # pragma: no cover - not Linux


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # Linux: reset the peak resident set size to the current one
        return True
    except OSError:  # pragma: no cover - not Linux, or not allowed
        return False


def check_load(path: Path, kind: str, names: list[str] | None = None) -> str:
    """Load ``path`` under the tripwires and memory probes; return how it ended.

    ``"refused"``: a GenaugError (a ModelFileError from ``load``). ``"loaded"``: the model
    loaded and ``sample`` gave rows or a GenaugError. Anything else fails the test.
    """
    RUNS[kind] += 1
    can_reset = _reset_rss_peak()
    start_rss = _rss_peak()
    tracemalloc.start()
    outcome = "refused"
    try:
        with _tripwires(names or []):
            try:
                model = genaug.load(path)
            except ModelFileError:
                pass
            else:
                outcome = "loaded"
                try:
                    model.sample(3, random_state=0)
                except GenaugError:
                    pass
    except GenaugError as exc:  # a GenaugError that is not a ModelFileError from load
        pytest.fail(f"load raised {type(exc).__name__}, not ModelFileError: {exc}")
    except MemoryError:
        pytest.fail("loading a hostile file ran out of memory")
    finally:
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert python_peak < MAX_PYTHON_PEAK, f"Python allocations peaked at {python_peak} bytes"
    if can_reset:
        assert _rss_peak() - start_rss < MAX_EXTRA_RSS, "the process grew by over 256 MiB"
    return outcome


# ----------------------------------------------------------------- JSON mutations
def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a JSON tree (the root excluded)."""
    out: list[tuple] = []
    if isinstance(node, (dict, list)):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            out.append((*prefix, key))
            out.extend(_paths(child, (*prefix, key)))
    return out


def _replace(tree: Any, path: tuple, value: Any) -> None:
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(tree: Any, path: tuple) -> None:
    node = tree
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 10**12, 10**400]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from([*HOSTILE_NAMES, "V1000000000000", "<U1000000000", "O", "float32"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=8,
)


def _write_config(path: Path, config: Any) -> None:
    # The file is written as JSON text; huge integers are written as they are.
    (path / CONFIG_NAME).write_text(json.dumps(config), encoding="utf-8")


def _config(path: Path) -> dict:
    return json.loads((path / CONFIG_NAME).read_text(encoding="utf-8"))


MODELS = st.sampled_from(["vae", "gan", "image"])


@SETTINGS
@given(model=MODELS, data=st.data())
def test_config_with_a_random_subtree_replaced(saved, tmp_path, model, data):
    target = _copy(saved[model], tmp_path / "m")
    config = _config(target)
    path = data.draw(st.sampled_from(_paths(config)), label="path")
    value = data.draw(JSON_VALUES, label="value")
    _replace(config, path, value)
    _write_config(target, config)
    check_load(target, "config-replace", [value] if isinstance(value, str) else [])


@SETTINGS
@given(model=MODELS, data=st.data())
def test_config_with_a_random_key_or_item_deleted(saved, tmp_path, model, data):
    target = _copy(saved[model], tmp_path / "m")
    config = _config(target)
    path = data.draw(st.sampled_from(_paths(config)), label="path")
    _delete(config, path)
    _write_config(target, config)
    outcome = check_load(target, "config-delete")
    if path[0] in ("class", "state", "format_version") and len(path) == 1:
        assert outcome == "refused"


@SETTINGS
@given(
    model=MODELS,
    where=st.sampled_from(
        [
            ("class",),
            ("state", "codec_kind"),
            ("state", "modules", 0),
            ("state", "codec", "columns", 0, "kind"),
            ("state", "codec", "container"),
            ("state", "labels", "array_dtype"),
            ("state", "labels", "dtype"),
        ]
    ),
    name=st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=20)),
)
def test_hostile_class_module_and_codec_names(saved, tmp_path, model, where, name):
    target = _copy(saved[model], tmp_path / "m")
    config = _config(target)
    try:
        _replace(config, where, name)
    except (KeyError, IndexError, TypeError):
        return  # this model has no such field (the GAN has no labels, images no columns)
    _write_config(target, config)
    outcome = check_load(target, "names", [name])
    if where == ("class",) and name not in ("VAESynthesizer", "GANSynthesizer"):
        assert outcome == "refused"


@SETTINGS
@given(model=MODELS, which=st.sampled_from([CONFIG_NAME, WEIGHTS_NAME]), data=st.data())
def test_truncated_files(saved, tmp_path, model, which, data):
    target = _copy(saved[model], tmp_path / "m")
    raw = (target / which).read_bytes()
    keep = data.draw(st.integers(0, len(raw) - 1), label="keep")
    (target / which).write_bytes(raw[:keep])
    assert check_load(target, "truncated") == "refused"


@SETTINGS
@given(
    model=MODELS,
    which=st.sampled_from([CONFIG_NAME, WEIGHTS_NAME]),
    garbage=st.binary(max_size=512),
)
def test_files_replaced_by_random_bytes(saved, tmp_path, model, which, garbage):
    target = _copy(saved[model], tmp_path / "m")
    (target / which).write_bytes(garbage)
    assert check_load(target, "garbage") == "refused"


@SETTINGS
@given(model=MODELS, data=st.data())
def test_bytes_flipped_in_the_weights_header(saved, tmp_path, model, data):
    target = _copy(saved[model], tmp_path / "m")
    raw = bytearray((target / WEIGHTS_NAME).read_bytes())
    header_end = 8 + struct.unpack("<Q", raw[:8])[0]
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = data.draw(st.integers(0, header_end - 1), label="at")
        raw[at] = data.draw(st.integers(0, 255), label="byte")
    (target / WEIGHTS_NAME).write_bytes(bytes(raw))
    check_load(target, "flipped")


DTYPES = st.sampled_from(["F32", "F64", "I64", "U8", "BOOL", "F8_E4M3", "C64", "Q9", "", "V"])
HUGE = st.one_of(st.integers(0, 16), st.integers(0, 2**64 - 1), st.sampled_from([2**40, 2**62]))
ENTRIES = st.fixed_dictionaries(
    {
        "dtype": st.one_of(DTYPES, JSON_LEAVES),
        "shape": st.one_of(st.lists(HUGE, max_size=5), JSON_LEAVES),
        "data_offsets": st.one_of(st.lists(HUGE, min_size=2, max_size=2), JSON_LEAVES),
    }
)


@SETTINGS
@given(
    model=MODELS,
    entries=st.dictionaries(
        st.one_of(st.sampled_from(HOSTILE_NAMES), st.text(max_size=10)), ENTRIES, max_size=4
    ),
    keep_real=st.booleans(),
    lie=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
    body=st.binary(max_size=64),
)
def test_crafted_weights_headers_claiming_huge_tensors(
    saved, tmp_path, model, entries, keep_real, lie, body
):
    target = _copy(saved[model], tmp_path / "m")
    raw = (target / WEIGHTS_NAME).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n]) if keep_real else {}
    header.update(entries)  # the real tensors (when kept) plus entries claiming terabytes
    text = json.dumps(header).encode()
    length = len(text) if lie is None else lie
    data = raw[8 + n :] + body if keep_real else body
    (target / WEIGHTS_NAME).write_bytes(struct.pack("<Q", length) + text + data)
    outcome = check_load(target, "crafted-header", list(entries))
    if entries and any(
        isinstance(e["shape"], list)
        and all(isinstance(d, int) for d in e["shape"])
        and math.prod(e["shape"]) > 2**30
        for e in entries.values()
    ):
        assert outcome == "refused"


def test_a_header_declaring_a_terabyte_is_refused_before_reading_it(saved, tmp_path):
    target = _copy(saved["vae"], tmp_path / "m")
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 2**42]}}
    ).encode()
    (target / WEIGHTS_NAME).write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(ModelFileError, match=r"tensor 'w'.*outside the file"):
        genaug.load(target)
    (target / WEIGHTS_NAME).write_bytes(struct.pack("<Q", 2**40) + header)
    with pytest.raises(ModelFileError, match="header declares 1099511627776 bytes"):
        genaug.load(target)


def test_tensor_names_with_paths_are_unexpected_tensors(saved, tmp_path):
    from safetensors.torch import load_file, save_file

    target = _copy(saved["vae"], tmp_path / "m")
    tensors = load_file(target / WEIGHTS_NAME)
    key = next(iter(tensors))
    tensors["../../x"] = tensors.pop(key)
    save_file(tensors, target / WEIGHTS_NAME)
    with pytest.raises(ModelFileError, match=r"missing .*unexpected \['\.\./\.\./x'\]"):
        genaug.load(target)


def test_nan_infinity_and_huge_numbers_in_config_are_refused(saved, tmp_path):
    target = _copy(saved["vae"], tmp_path / "m")
    text = (target / CONFIG_NAME).read_text()
    for bad in ("NaN", "Infinity", "1e999", "9" * 5000):
        (target / CONFIG_NAME).write_text(text.replace('"seed": ', f'"seed": {bad}, "x": ', 1))
        with pytest.raises(ModelFileError, match="not valid JSON"):
            genaug.load(target)


def test_a_million_hidden_layers_are_refused_before_building_them(saved, tmp_path):
    target = _copy(saved["vae"], tmp_path / "m")
    config = _config(target)
    config["params"]["encoder_hidden"] = [1] * 1_000_000
    _write_config(target, config)
    assert check_load(target, "layers") == "refused"
    with pytest.raises(ModelFileError, match="declares 1000001 hidden layers"):
        genaug.load(target)


def test_void_and_giant_dtypes_in_config_are_refused(saved, tmp_path):
    target = _copy(saved["vae"], tmp_path / "m")
    for field, value in (("array_dtype", "V100000"), ("dtype", "<U100000")):
        config = _config(saved["vae"])
        config["state"]["labels"][field] = value
        _write_config(target, config)
        with pytest.raises(ModelFileError, match="genaug never saves"):
            genaug.load(target)


@pytest.fixture(scope="module")
def saved_tagged(tmp_path_factory) -> Path:
    """A tiny model whose codec state holds tagged values (a tuple column name, date and
    Timestamp categories) and integers beyond 2**53."""
    rng = np.random.default_rng(2)
    n = 40
    X = pd.DataFrame(
        {
            ("a", "x"): rng.normal(size=n),
            "day": [datetime.date(2020, 1, 1 + k % 3) for k in range(n)],
            "stamp": pd.Categorical(pd.to_datetime(["2020-01-01", "2021-01-01"] * (n // 2))),
            "big": np.where(rng.random(n) < 0.5, 2**63 - 1, rng.integers(0, 2**62, n)),
        }
    )
    path = tmp_path_factory.mktemp("tagged") / "vae"
    VAESynthesizer(
        epochs=1, latent_dim=2, encoder_hidden=(8,), decoder_hidden=(8,), random_state=0
    ).fit(X).save(path)
    return path


def _tagged_columns(config: dict) -> dict:
    columns = config["state"]["codec"]["columns"]
    return {str(c["name"]) if isinstance(c["name"], str) else "tuple": c for c in columns}


@pytest.mark.parametrize(
    ("column", "key", "value"),
    [
        ("day", "categories", {"type": "date", "value": "2020-13-45"}),
        ("day", "categories", {"type": "date"}),
        ("day", "categories", {"type": "pickle", "value": "cos\nsystem"}),
        ("day", "categories", {"type": "float", "value": "nan"}),
        ("day", "categories", {"type": "decimal", "value": "1e999999999999999999"}),
        ("day", "categories", {"type": "bytes", "value": "zz"}),
        ("stamp", "dtype_categories", {"type": "timestamp", "value": "x", "unit": "us"}),
        ("stamp", "dtype_categories", {"type": "timestamp", "value": "2020", "unit": "weeks"}),
        ("stamp", "dtype_categories", {"type": "timestamp", "value": "2020", "tz": "../x"}),
        ("tuple", "name", {"type": "tuple", "value": [{"type": "eval", "value": "1"}]}),
        ("tuple", "name", {"type": "tuple", "value": "ax"}),
        ("tuple", "name", [["a", "x"]]),
        ("big", "point_masses", [10**400]),
        ("big", "max", 2**70),
        ("big", "min", -(2**70)),
    ],
)
def test_hostile_tagged_values_and_huge_integers(saved_tagged, tmp_path, column, key, value):
    target = _copy(saved_tagged, tmp_path / "m")
    config = _config(target)
    entry = _tagged_columns(config)[column]
    if isinstance(entry[key], list) and not isinstance(value, list):
        entry[key][0] = value
    else:
        entry[key] = value
    _write_config(target, config)
    assert check_load(target, "tagged", ["os", "pickle"]) in ("refused", "loaded")


def test_the_tagged_model_loads_and_samples(saved_tagged):
    assert check_load(saved_tagged, "tagged-baseline") == "loaded"
    out = genaug.load(saved_tagged).sample(50, random_state=0)
    assert (out["big"] >= 0).all() and isinstance(out["day"].iloc[0], datetime.date)


@pytest.mark.parametrize("model", ["vae", "gan", "image"])
def test_the_untouched_folders_load_and_sample(saved, model):
    """The checker's baseline: with no mutation, every model loads and samples."""
    assert check_load(saved[model], "baseline") == "loaded"


def test_the_tripwires_catch_code_that_runs():
    with pytest.raises(CodeRan, match=r"os\.system"), _tripwires([]):
        os.system("true")
    # Importing a module from source runs exec: no new module was imported by any load.
    with pytest.raises(CodeRan, match="exec"), _tripwires([]):
        sys.modules.pop("colorsys", None)
        import colorsys  # noqa: F401
    try:
        with pytest.raises(AssertionError, match="import"), _tripwires(["genaug_planted"]):
            sys.modules["genaug_planted"] = types.ModuleType("genaug_planted")
    finally:
        sys.modules.pop("genaug_planted", None)


def test_the_loader_property_tests_ran_their_examples():
    """Run last in this module: every property test ran (all of) its examples."""
    property_kinds = (
        "config-replace",
        "config-delete",
        "names",
        "truncated",
        "garbage",
        "flipped",
        "crafted-header",
    )
    if not all(RUNS[k] for k in property_kinds):
        pytest.skip("run with the whole module to count the examples")
    for kind in property_kinds:
        assert RUNS[kind] >= EXAMPLES // 2, (kind, RUNS[kind])
    print(f"\nhypothesis examples run against genaug.load: {sum(RUNS.values())} {dict(RUNS)}")


# ------------------------------------------------------------------ source scan
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def unsafe_calls(source: str) -> list[str]:
    """The unsafe deserialisation and dynamic-code constructs in a Python source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module in UNSAFE_MODULES:
                found.append(f"from {node.module} import ...")
            # importlib.resources is fine; import_module with a name from a file is not.
            found += [
                f"from {node.module} import {a.name}"
                for a in node.names
                if a.name in ("import_module", "__import__")
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            keywords = {k.arg: k.value for k in node.keywords}
            name = func.id if isinstance(func, ast.Name) else None
            attr = func.attr if isinstance(func, ast.Attribute) else None
            owner = func.value.id if attr and isinstance(func.value, ast.Name) else None
            if name in UNSAFE_BUILTINS:
                found.append(f"{name}()")
            elif attr == "load" and owner == "torch":
                weights_only = keywords.get("weights_only")
                if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                    found.append("torch.load() without weights_only=True")
            elif attr in ("load", "loads") and owner in UNSAFE_MODULES | {"yaml", "joblib"}:
                found.append(f"{owner}.{attr}()")
            elif attr == "import_module":
                found.append("import_module()")
            elif attr == "load" and owner == "jit":
                found.append("torch.jit.load()")
            elif "allow_pickle" in keywords:
                value = keywords["allow_pickle"]
                if not (isinstance(value, ast.Constant) and value.value is False):
                    found.append(f"{owner}.{attr}(allow_pickle=...)")
            elif attr == "getattr" or name == "getattr":
                # getattr(torch/np/pd/builtins, <not a literal>) looks a name up in a module.
                target = node.args[0] if node.args else None
                if (
                    isinstance(target, ast.Name)
                    and target.id in ("torch", "np", "numpy", "pd", "pandas", "builtins", "os")
                    and len(node.args) > 1
                    and not isinstance(node.args[1], ast.Constant)
                ):
                    found.append(f"getattr({target.id}, <name from data>)")
    return found


def test_the_scanner_finds_what_it_looks_for():
    bad = (
        "import pickle\nfrom importlib import import_module\nimport torch, numpy as np\n"
        "torch.load(p)\ntorch.load(p, weights_only=False)\neval(s)\nexec(s)\n__import__(n)\n"
        "np.load(p, allow_pickle=True)\nimportlib.import_module(n)\ngetattr(torch, name)\n"
        "yaml.load(t)\n"
    )
    assert len(unsafe_calls(bad)) == 11, unsafe_calls(bad)
    good = (
        "from importlib import resources\ntorch.load(p, weights_only=True)\nnp.load(p)\n"
        "getattr(torch, 'float32')\nre.compile(p)\n"
    )
    assert unsafe_calls(good) == []


def test_package_sources_hold_no_unsafe_deserialisation():
    files = sorted((REPO / "genaug").rglob("*.py")) + sorted((REPO / "adapters").rglob("*.py"))
    assert len(files) > 20
    found = {
        str(f.relative_to(REPO)): hits
        for f in files
        if (hits := unsafe_calls(f.read_text(encoding="utf-8")))
    }
    assert found == {}
