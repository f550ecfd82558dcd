"""The frozen pre-registration: the committed lock matches the builtin declarations, an edited
declaration breaks it (shown on a copy of the packages), lock updates need a reason, and the amendment
log is validated."""
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bnclaims.harness.declare import prereg, registry
from bnclaims.harness.declare.design import Arm, Control, Design, Metric
from bnclaims.harness.declare.hypothesis import Budget, Claim, Hypothesis

ROOT = Path(__file__).resolve().parents[2]


def builtin():
    return registry.claims(("builtin",))


# --- THE lock test ---------------------------------------------------------------------------------

def test_committed_lock_matches_the_builtin_declarations():
    """Fails when a declaration differs from claims/prereg.lock.json; the message says how to update."""
    prereg.assert_frozen(builtin(), prereg.builtin_lock_path())


def test_lock_and_amendments_are_files_of_the_claims_package():
    from bnclaims import claims
    pkg = Path(claims.__file__).resolve().parent
    assert prereg.builtin_lock_path() == pkg / "prereg.lock.json"
    assert prereg.builtin_amendments_path() == pkg / "amendments.json"
    text = prereg.builtin_lock_path().read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"     # canonical layout
    assert prereg.load_lock(prereg.builtin_lock_path())["updates"], "the lock records at least its initial freeze"


def test_builtin_amendments_are_valid_and_name_known_hypotheses_or_subclaims():
    known = {h.id for c in builtin() for h in c.hypotheses} | {s.id for c in builtin() for s in c.subclaims} | set(
        prereg.load_lock(prereg.builtin_lock_path())["hypotheses"])
    unknown = sorted(set(prereg.load_amendments()) - known)
    assert not unknown, f"claims/amendments.json names unknown hypotheses: {unknown}"


# --- the lock test fails on an edited declaration (a copy of the packages) -------------------------

PROBE = textwrap.dedent("""
    import json, sys
    tmp = sys.argv[1]
    sys.path.insert(0, tmp)
    from bnclaims import claims, harness
    from bnclaims.claims import CLAIMS
    from bnclaims.harness.declare import prereg
    lock = prereg.builtin_lock_path()
    out = {"files": [claims.__file__, harness.__file__, prereg.__file__, str(lock)],
           "lines": prereg.check_lock(CLAIMS, lock), "diff": prereg.lock_diff(CLAIMS, lock)}
    try:
        prereg.assert_frozen(CLAIMS, lock)
        out["assertion"] = None
    except AssertionError as e:
        out["assertion"] = str(e)
    print(json.dumps(out))
""")


def test_the_lock_test_fails_on_an_edited_declaration(tmp_path):
    for pkg in ("claims", "harness"):
        shutil.copytree(ROOT / pkg, tmp_path / "bnclaims" / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}

    def run(*args):
        r = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert "Traceback" not in r.stderr, r.stderr
        return r

    def under_tmp(path):
        return Path(path).resolve().is_relative_to(tmp_path.resolve())

    # Freeze the copy as it is (the checkout's own lock may lag behind work in progress), through the CLI:
    # the copy's entry point resolves to the copy, and so does the lock it writes.
    r = run("-m", "bnclaims.harness.cli", "lock", "--reason", "baseline of the copy")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("-m", "bnclaims.harness.cli", "lock", "--check")
    assert r.returncode == 0 and "frozen" in r.stdout, r.stdout + r.stderr
    assert str(tmp_path / "bnclaims" / "claims" / "prereg.lock.json") in r.stdout

    # Edit one declaration of the copy: the title of the first hypothesis in claims/c2.py.
    src = tmp_path / "bnclaims" / "claims" / "c2.py"
    text = src.read_text(encoding="utf-8")
    m = re.search(r'id="(C2\.[\w.]+)",\s*claim="C2",[^\n]*?\btitle="', text)
    assert m, "no `id=..., claim=\"C2\", title=\"...` declaration found in claims/c2.py to edit"
    edited = m.group(1)
    src.write_text(text[:m.end()] + "EDITED " + text[m.end():], encoding="utf-8")

    r = run("-c", PROBE, str(tmp_path))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert all(under_tmp(f) for f in out["files"]), f"the probe imported the checkout, not the copy: {out['files']}"
    assert out["diff"] == {"changed": [edited], "added": [], "removed": []}
    assert len(out["lines"]) == 1 and out["lines"][0].startswith(f"changed: {edited} (claim C2)")
    msg = out["assertion"]
    assert msg and f"changed: {edited}" in msg
    assert 'bnclaims lock --reason "..."' in msg and "claims/amendments.json" in msg

    r = run("-m", "bnclaims.harness.cli", "lock", "--check")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"changed: {edited}" in r.stdout and "bnclaims lock --reason" in r.stdout


# --- hashes ----------------------------------------------------------------------------------------
# Synthetic hypotheses: these tests do not depend on the builtin declarations.

def hyp(hid, **kw):
    design = Design({"x": Arm(constant=1.0), "y": Arm(constant=0.0)}, Metric("T.m", {"k": 1}),
                    controls=(Control("swap", "y in place of x", arms={"x": "y"}),
                              Control("swap2", "y in place of x, again", arms={"x": "y"})))
    fields = dict(id=hid, claim=hid.split(".")[0], title="t", statement="x exceeds y", source="nowhere",
                  stance="supports", metric="m", arms=("x", "y"), direction="greater", test="welch",
                  budgets={"ci": Budget(4, 10), "smoke": Budget(2, 5)}, design=design)
    return Hypothesis(**{**fields, **kw})


def test_declaration_hash_is_stable_and_covers_every_field():
    h = hyp("T.a")
    base = prereg.declaration_hash(h)
    assert re.fullmatch(r"[0-9a-f]{64}", base) and prereg.declaration_hash(h) == base
    assert prereg.declaration_hash(hyp("T.a")) == base
    for change in ({"alpha": 0.05}, {"notes": "amended"}, {"title": "t!"}, {"budgets": {"ci": Budget(5, 10)}},
                   {"design": dataclasses.replace(h.design, controls=h.design.controls[1:])}):
        assert prereg.declaration_hash(dataclasses.replace(h, **change)) != base, change


def test_every_builtin_declaration_hashes():
    hashes = {h.id: prereg.declaration_hash(h) for c in builtin() for h in c.hypotheses}
    assert len(set(hashes.values())) == len(hashes)


# --- update_lock and check_lock on a temporary lock ------------------------------------------------

def _pack():
    """Two small claims."""
    return [Claim("T", "claim T", "src", (hyp("T.a"), hyp("T.b", alpha=0.05))), Claim("U", "claim U", "src", (hyp("U.a"),))]


def _with(claims, hid, **change):
    return [dataclasses.replace(c, hypotheses=tuple(dataclasses.replace(h, **change) if h.id == hid else h
                                                    for h in c.hypotheses)) for c in claims]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_update_lock_requires_a_reason(tmp_path, reason):
    with pytest.raises(ValueError, match="reason"):
        prereg.update_lock(_pack(), tmp_path / "lock.json", reason)
    assert not (tmp_path / "lock.json").exists()


def test_update_lock_writes_an_update_entry_and_is_a_no_op_when_nothing_changed(tmp_path):
    path, claims = tmp_path / "lock.json", _pack()
    ids = [h.id for c in claims for h in c.hypotheses]
    lock = prereg.update_lock(claims, path, "initial freeze", date="2024-05-01")
    assert prereg.load_lock(path) == lock
    assert set(lock["hypotheses"]) == set(ids) and lock["schema"] == 1
    assert lock["hypotheses"][ids[0]] == {"hash": prereg.declaration_hash(claims[0].hypotheses[0]),
                                          "claim": claims[0].id}
    assert lock["updates"] == [{"date": "2024-05-01", "reason": "initial freeze", "changed": [], "added": ids,
                                "removed": []}]
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(lock, sort_keys=True, indent=1) + "\n"
    assert prereg.check_lock(claims, path) == [] and prereg.check_lock(claims, lock) == []

    assert prereg.update_lock(claims, path, "nothing to do") == lock
    assert path.read_text(encoding="utf-8") == text                      # not rewritten

    # change one, drop one, add one: one new entry naming each
    first, dropped = ids[0], ids[1]
    changed = _with(claims, first, notes="amended after the pilot")
    changed[0] = dataclasses.replace(changed[0], hypotheses=changed[0].hypotheses[:1])
    extra = hyp("V.a")
    changed.append(Claim("V", "claim V", "src", (extra,)))
    lines = prereg.check_lock(changed, path)
    assert len(lines) == 3, lines
    for line, want in zip(lines, (f"changed: {first} ", f"added: {extra.id} ", f"removed: {dropped} ")):
        assert line.startswith(want), lines
    new = prereg.update_lock(changed, path, "amend " + first)
    assert len(new["updates"]) == 2
    assert {k: new["updates"][-1][k] for k in ("changed", "added", "removed")} == {
        "changed": [first], "added": [extra.id], "removed": [dropped]}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", new["updates"][-1]["date"])
    assert dropped not in new["hypotheses"] and prereg.check_lock(changed, path) == []


def test_assert_frozen_names_the_change_and_the_fix(tmp_path):
    path, claims = tmp_path / "lock.json", _pack()
    prereg.update_lock(claims, path, "freeze")
    hid = claims[0].hypotheses[0].id
    with pytest.raises(AssertionError) as e:
        prereg.assert_frozen(_with(claims, hid, alpha=0.04), path)
    assert f"changed: {hid}" in str(e.value) and 'bnclaims lock --reason "..."' in str(e.value)
    assert "claims/amendments.json" in str(e.value)


@pytest.mark.parametrize("date", ["2024-13-01", "1 May 2024", "2024-5-1"])
def test_update_lock_rejects_a_bad_date(tmp_path, date):
    with pytest.raises(ValueError):
        prereg.update_lock(_pack(), tmp_path / "lock.json", "freeze", date=date)


def test_a_malformed_lock_is_refused(tmp_path):
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"schema": 2, "hypotheses": {}, "updates": []}))
    with pytest.raises(ValueError, match="schema"):
        prereg.check_lock(_pack(), path)


# --- the amendment log -----------------------------------------------------------------------------

GOOD = {"id": "C2.a", "date": "2024-05-01", "after_data": False, "change": "alpha 0.05 -> 0.01",
        "reason": "pilot showed the effect is large"}


def test_load_amendments_groups_entries_by_hypothesis(tmp_path):
    path = tmp_path / "amendments.json"
    second = {**GOOD, "date": "2024-06-01", "after_data": True}
    path.write_text(json.dumps([GOOD, {**GOOD, "id": "C1.a"}, second]))
    assert prereg.load_amendments(path) == {"C2.a": [GOOD, second], "C1.a": [{**GOOD, "id": "C1.a"}]}
    path.write_text("[]")
    assert prereg.load_amendments(path) == {}


@pytest.mark.parametrize("entry, field", [
    ({k: v for k, v in GOOD.items() if k != "reason"}, "reason"),
    ({**GOOD, "seen": True}, "seen"),
    ({**GOOD, "date": "2024/05/01"}, "date"),
    ({**GOOD, "date": "2024-02-30"}, "date"),
    ({**GOOD, "after_data": "no"}, "after_data"),
    ({**GOOD, "change": ""}, "change"),
    ({**GOOD, "id": 3}, "id"),
])
def test_load_amendments_rejects_a_malformed_entry(tmp_path, entry, field):
    path = tmp_path / "amendments.json"
    path.write_text(json.dumps([GOOD, entry]))
    with pytest.raises(ValueError, match=rf"entry 1: field '{field}'"):
        prereg.load_amendments(path)


@pytest.mark.parametrize("content, message", [('{"id": "C2.a"}', "JSON list"), ('["C2.a"]', "entry 0"),
                                              ("[", "not valid JSON")])
def test_load_amendments_rejects_a_malformed_file(tmp_path, content, message):
    path = tmp_path / "amendments.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        prereg.load_amendments(path)


# --- the command line ------------------------------------------------------------------------------

def cli(*args):
    return subprocess.run([sys.executable, "-m", "bnclaims.harness.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_lock_check_passes_on_the_committed_lock():
    r = cli("lock", "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "frozen" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["lock"], "--reason TEXT is required"),
    (["lock", "--reason", "  "], "--reason TEXT is required"),
    (["lock", "--check", "--reason", "x"], "not allowed with"),
])
def test_cli_lock_usage_errors_exit_2(args, message):
    before = prereg.builtin_lock_path().read_bytes()
    r = cli(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr
    assert prereg.builtin_lock_path().read_bytes() == before


def test_register_round_records_bases_and_hashes_once(tmp_path):
    path, claims = tmp_path / "lock.json", _pack()
    prereg.update_lock(claims, path, "freeze", date="2024-05-01")
    lock = prereg.register_round(claims, path, "2", seed_base=300, replication_base=400, code_hash="c" * 64,
                                 date="2024-05-02")
    r = lock["rounds"]["2"]
    assert r == {"seed_base": 300, "replication_base": 400, "code_hash": "c" * 64,
                 "declarations": prereg.declarations_hash(claims), "date": "2024-05-02"}
    assert prereg.load_lock(path) == lock and prereg.check_lock(claims, path) == []
    assert prereg.round_status(claims, path) == [
        "round 2: seed base 300, replication base 400, registered 2024-05-02: declarations unchanged since"]
    # the same registration again is a no-op; other contents are refused, as is a used base
    assert prereg.register_round(claims, path, "2", seed_base=300, replication_base=400, code_hash="c" * 64) == lock
    with pytest.raises(ValueError, match="already registered"):
        prereg.register_round(claims, path, "2", seed_base=301, replication_base=400, code_hash="c" * 64)
    with pytest.raises(ValueError, match="already belongs"):
        prereg.register_round(claims, path, "3", seed_base=400, code_hash="c" * 64)
    # a later amendment shows in the status line
    changed = _with(claims, claims[0].hypotheses[0].id, notes="amended after round 2")
    prereg.update_lock(changed, path, "amend", date="2024-05-03")
    hid = claims[0].hypotheses[0].id
    assert prereg.round_status(changed, path)[0].endswith(
        f"CHANGED since (record the amendment); updated after it: {hid}; no vote of the round changed")
    assert prereg.round_status(changed, path, votes=[hid])[0].endswith(f"VOTES CHANGED: {hid}")


def test_register_round_needs_a_lock_that_matches(tmp_path):
    path, claims = tmp_path / "lock.json", _pack()
    prereg.update_lock(claims, path, "freeze")
    changed = _with(claims, claims[0].hypotheses[0].id, notes="edited")
    with pytest.raises(ValueError, match="update it before registering"):
        prereg.register_round(changed, path, "2", seed_base=300, code_hash="c" * 64)
