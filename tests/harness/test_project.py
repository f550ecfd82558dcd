"""Project wiring: the README's commands, CI, pinned versions, no pickle on read-back."""
import re
from pathlib import Path

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


def test_no_pickle_when_reading_back():
    for path in list((ROOT / "harness").glob("*.py")) + list((ROOT / "claims").glob("*.py")):
        text = path.read_text()
        assert "import pickle" not in text, path
        assert "allow_pickle=True" not in text, path
