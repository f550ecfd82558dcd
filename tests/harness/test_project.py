"""Project wiring: the README's commands, CI, version ranges and pins, no pickle on read-back."""
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _readme_commands():
    return [ln.strip() for ln in (ROOT / "README.md").read_text().splitlines()
            if ln.startswith("    python3 -m venv")]


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_command():
    cmds = _readme_commands()
    assert len(cmds) == 2
    assert cmds[0].endswith("bnclaims run") and "pytest" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert cmds[1] in ci


def test_constraints_pin_torch_and_every_install_uses_them():
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", pins, re.M)
    for dep in ("numpy", "scipy", "pytest", "pytest-xdist", "mnist1d", "matplotlib", "filelock"):
        assert re.search(rf"^{dep}==", pins, re.M | re.I), dep
    assert all("-c constraints.txt" in c for c in _readme_commands())


def _pins() -> dict:
    """constraints.txt as {canonical name: exact version}; every line that is not a comment is an exact pin."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+!\-]+)", line)
            assert m, f"constraints.txt: {line!r} is not an exact pin NAME==VERSION"
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def test_pyproject_declares_ranges_that_hold_the_pins():
    """pyproject.toml declares ranges (an installed bnclaims coexists with other versions in them), never an exact
    pin; constraints.txt pins every one of them exactly, inside its range (torch: >=2.13,<2.15 holds 2.13.0)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project.get("optional-dependencies", {}).values() for r in extra]
    pins = _pins()
    for req in reqs:
        ops = {s.operator for s in req.specifier}
        assert ops and not ops & {"==", "==="}, f"pyproject.toml: {req} must be a range, not an exact pin"
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt pins no version of {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {req}"
    torch = next(r for r in reqs if r.name == "torch")
    assert str(torch.specifier) == "<2.15,>=2.13"


def test_no_pickle_when_reading_back():
    for path in list((ROOT / "harness").glob("*.py")) + list((ROOT / "claims").glob("*.py")):
        text = path.read_text()
        assert "import pickle" not in text, path
        assert "allow_pickle=True" not in text, path
