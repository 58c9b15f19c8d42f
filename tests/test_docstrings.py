"""Public docstrings document exactly the parameters their signatures take (numpydoc style)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import pytest

MODULES = [
    "genaug",
    "genaug.metrics",
    "genaug.data",
    "genaug.datasets",
    "genaug.sharding",
    "genaug.adapters.hf",
    "genaug.adapters.torchvision",
]
# A parameter line of a numpydoc "Parameters" section: "name : type" (or "a, b : type").
_PARAM = re.compile(r"^(\*{0,2}\w+(?:, \*{0,2}\w+)*)\s*:")


def _documented(doc: str, section: str = "Parameters") -> list[str] | None:
    """Names listed in the docstring's ``section``, or None without one."""
    lines = inspect.cleandoc(doc).splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == section)
    except StopIteration:
        return None
    names: list[str] = []
    for i in range(start + 2, len(lines)):
        line = lines[i]
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if following and set(following) <= {"-"}:
            break  # the title of the next section
        if line and not line.startswith(" "):
            match = _PARAM.match(line)
            head = match.group(1) if match else line.strip()
            names += [n.strip().lstrip("*") for n in head.split(",")]
    return names


def _public_callables():
    seen = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    continue
                yield f"{module_name}.{name}", obj, obj.__init__
                for meth_name, meth in vars(obj).items():
                    if inspect.isfunction(meth) and not meth_name.startswith("_"):
                        yield f"{module_name}.{name}.{meth_name}", meth, meth
            else:
                yield f"{module_name}.{name}", obj, obj


CASES = list(_public_callables())


def _signature_names(func) -> list[str]:
    params = inspect.signature(func).parameters.values()
    return [
        p.name
        for p in params
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize(("name", "documented", "func"), CASES, ids=[c[0] for c in CASES])
def test_parameters_section_matches_the_signature(name, documented, func):
    doc = inspect.getdoc(documented)
    assert doc, f"{name} has no docstring"
    expected = _signature_names(func)
    if dataclasses.is_dataclass(documented):
        # A result record: its fields are documented as Attributes, in any order.
        listed = _documented(doc, "Attributes") or []
        assert set(expected) <= set(listed), f"{name}: fields {expected}, documented {listed}"
        return
    listed = _documented(doc)
    if listed is None:
        assert not expected, f"{name} takes {expected} but its docstring has no Parameters"
        return
    assert listed == expected, f"{name}: docstring lists {listed}, signature has {expected}"


def test_the_catalogue_covers_the_public_api():
    names = {c[0] for c in CASES}
    for must in ("genaug.VAESynthesizer", "genaug.SyntheticAugmenter", "genaug.load",
                 "genaug.metrics.evaluate", "genaug.adapters.hf.augment_dataset"):
        assert must in names
