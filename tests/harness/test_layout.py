"""The house: harness/ in floors that import only from the floors below them, claim modules that import only the
kit, one import namespace (bnclaims), and the deprecated aliases of moved modules. Read with ast; nothing here
imports torch."""
from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ("spec", "data", "nets", "norms", "engine", "datacache")   # datacache: the data sets' cache, data.py's twin
# Each floor may import its own floor and the floors with a lower rank. Paths and the store come first (the
# engine reads its device and thread settings there), then the numeric core; statistics are plain functions over
# arrays; declarations read the verdict rules; runs read declarations; the kit is what claims see; report,
# plugin and cli sit on top.
RANK = {"store": 0, "core": 1, "routines": 2, "stats": 3, "declare": 4, "run": 5, "kit": 6, "report": 7,
        "plugin": 8, "cli": 9}
SHIMS = ("design", "hypothesis", "evidence", "checks")


def floor(parts: list[str]) -> str | None:
    """harness module path parts (without "harness") -> its floor; None for a deprecated alias."""
    if parts[0] in CORE:
        return "core"
    if parts[0] in ("vgg", "userdata", "routines"):
        return "routines"
    if parts[0] in ("paths", "arrays", "store"):
        return "store"
    if parts[0] in SHIMS and len(parts) == 1:
        return None
    return parts[0] if parts[0] in RANK else "cli" if parts[0] == "cli" else None


def harness_modules():
    for f in sorted((ROOT / "harness").rglob("*.py")):
        parts = list(f.relative_to(ROOT / "harness").with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1] or ["__init__"]
        yield f, parts


def imported(f: Path, parts: list[str]) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, relative ones resolved against bnclaims.harness."""
    pkg = ["bnclaims", "harness"] + (parts if f.name == "__init__.py" else parts[:-1])
    out = []
    for node in ast.walk(ast.parse(f.read_text(), str(f))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(pkg[: len(pkg) - node.level + 1] + [node.module or ""]).rstrip(".") if node.level else node.module
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def test_each_floor_imports_only_from_floors_below_it():
    bad = []
    for f, parts in harness_modules():
        here = floor(parts)
        if here is None:
            continue
        for line, name in imported(f, parts):
            if not name.startswith("bnclaims.harness."):
                continue
            there = floor(name.split(".")[2:])
            if there is not None and RANK[there] > RANK[here]:
                bad.append(f"{f.relative_to(ROOT)}:{line} ({here}) imports {name} ({there})")
    assert not bad, "imports from a floor above:\n" + "\n".join(bad)


def test_the_framework_does_not_import_its_example_pack_or_torch_where_it_must_not():
    bad = []
    for f, parts in harness_modules():
        for line, name in imported(f, parts):
            where = f"{f.relative_to(ROOT)}:{line} imports {name}"
            if name.startswith(("bnclaims.claims", "claims")):
                bad.append(where)
            if name.split(".")[0] in ("harness",):
                bad.append(where + " (outside the bnclaims namespace)")
            if name.split(".")[0] == "torch" and floor(parts) in ("declare", "stats", "report", "plugin", "kit"):
                bad.append(where + " (this floor imports no torch)")
    assert not bad, "\n".join(bad)


def test_claim_modules_import_only_the_kit():
    bad = []
    for f in sorted((ROOT / "claims").glob("*.py")):
        for line, name in imported(f, ["x"]):
            top = name.split(".")
            if top[0] == "bnclaims" and not (name.startswith("bnclaims.harness.kit") or name.startswith("bnclaims.claims")):
                if f.stem in ("knockouts",) and name.startswith("bnclaims.harness.routines"):
                    continue        # the knock-outs read the routine registry to validate their arms
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {name}")
            if top[0] in ("harness", "claims"):
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {name} (outside the bnclaims namespace)")
    assert not bad, "claim modules import bnclaims.harness.kit only:\n" + "\n".join(bad)


@pytest.mark.parametrize("old,new", [("design", "declare.design"), ("hypothesis", "declare.hypothesis"),
                                     ("evidence", "declare.evidence"), ("checks", "run.checks")])
def test_moved_modules_stay_importable_for_one_release_with_a_warning(old, new):
    code = (f"import warnings, importlib; warnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    importlib.import_module('bnclaims.harness.{old}')\n"
            f"except DeprecationWarning as e:\n    print('warned', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("warned") and f"bnclaims.harness.{old} moved to" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import importlib
        mod, home = importlib.import_module(f"bnclaims.harness.{old}"), importlib.import_module(f"bnclaims.harness.{new}")
    public = [n for n in vars(home) if not n.startswith("_") and not isinstance(getattr(home, n), type(sys))]
    assert all(getattr(mod, n) is getattr(home, n) for n in public)


def test_design_alias_keeps_validate_and_describe():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from bnclaims.harness import design
    from bnclaims.harness.declare import lockform, validate
    assert design.validate is validate.validate and design.describe is lockform.describe
    assert design.REDUCTIONS is __import__("bnclaims.harness.declare.design", fromlist=["x"]).REDUCTIONS


def test_no_top_level_harness_or_claims_module_is_imported():
    """Everything lives under bnclaims: another distribution's top-level harness or claims package is never shadowed."""
    code = ("import sys, bnclaims.harness.plugin.hooks, bnclaims.harness.cli, bnclaims.harness.report.build, "
            "bnclaims.harness.declare.registry as r; r.claims(); import bnclaims.harness.run.runner; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('harness', 'claims')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/").stdout
    assert out.strip() == "[]"


def test_every_package_folder_is_in_the_wheel():
    """pyproject.toml lists the packages by hand (package_dir maps bnclaims.harness and bnclaims.claims onto the
    repository's folders); a new floor left out of the list would be missing from a non-editable install."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"bnclaims." + ".".join(f.parent.relative_to(ROOT).parts)
             for pkg in ("harness", "claims") for f in (ROOT / pkg).rglob("__init__.py")}
    assert found == listed


def test_the_worked_example_is_the_guide_s_code_and_fits_in_36_lines():
    text = (ROOT / "claims" / "layernorm.py").read_text()
    assert len(text.splitlines()) <= 36, "the authoring guide's worked example grew past its 36 lines"
    assert text.strip() in (ROOT / "docs" / "authoring.md").read_text(), \
        "docs/authoring.md's worked example differs from claims/layernorm.py"
    assert "bnclaims.harness.kit" in text
