"""Round 2's declarations (claims/round2.py): one set of votes per sub-claim, each a minimum-effect test at its
Bonferroni share, with the n and power of its saved plan, registered in the lock before it ran."""
import json
import subprocess
from pathlib import Path

import pytest

from bnclaims.claims import round2, subclaims
from bnclaims.harness.declare import prereg, registry

ROOT = Path(__file__).resolve().parents[2]
PLAN = json.loads((ROOT / "claims" / "power_plan.json").read_text())["plans"]
HYPS = {h.id: h for h in registry.all_hypotheses()}
CLAIMS = {c.id: c for c in registry.claims(("builtin",))}
VOTES = {v.id: (sid, v) for sid, vs in round2.VOTES.items() for v in vs}


def test_every_vote_is_declared_as_round_2_says():
    for hid, (sid, v) in VOTES.items():
        h = HYPS[hid]
        assert h.votes and h.runs_in("ci") and h.budget("ci").seeds >= v.n, hid
        assert h.sesoi == v.sesoi and h.expect == v.expect and h.planned_power == v.power, hid
        assert (v.sesoi is None) == (h.direction == "equivalent"), f"{hid}: a vote tests a minimum effect"
        assert hid in {i for s in subclaims.BY_CLAIM[h.claim] if s.id == sid for i in s.ids()}, hid


def test_nothing_else_votes_and_alphas_split_each_claim():
    for cid, c in CLAIMS.items():
        votes = [h for h in c.hypotheses if h.votes]
        assert {h.id for h in votes} == {v.id for vs in round2.votes_of(c).values() for v in vs}, cid
        if votes:
            assert sum(h.alpha for h in votes) == pytest.approx(c.fwer), cid


def test_votes_skip_side_statements_and_identities():
    kinds = {s.id: s for subs in subclaims.BY_CLAIM.values() for s in subs}
    for sid in round2.VOTES:
        assert kinds[sid].kind != "side" and (kinds[sid].evidence or kinds[sid].construct or kinds[sid].definitions), sid


def test_n_and_power_follow_the_saved_plan():
    """claims/power_plan.json is benchmarks/plan_seeds.py's output on the pilot; the declarations adopt it."""
    assert set(PLAN) == set(VOTES)
    for hid, (sid, v) in VOTES.items():
        p = PLAN[hid]
        assert (p["subclaim"], p["n"], p["sesoi"]) == (sid, v.n, v.sesoi), hid
        assert p["power"] == pytest.approx(v.power, abs=5e-4), hid
        assert p["alpha"] == pytest.approx(HYPS[hid].alpha), hid
        assert p["floor_p"] <= p["alpha"] / 10 and (p["discordant_tolerated"] is None or p["discordant_tolerated"] >= 1)
        assert HYPS[hid].underpowered == p["underpowered"], hid


def test_expected_not_reproduced_votes_carry_the_pilot_reading():
    for hid, (_sid, v) in VOTES.items():
        if v.expect == "not reproduced":
            assert round2.EXPECT_REASONS[hid].startswith("pilot:") and HYPS[hid].expect_reason, hid


def test_the_round_is_registered_in_the_lock():
    lock = prereg.load_lock(prereg.builtin_lock_path())
    r = lock.get("rounds", {}).get(str(round2.ROUND))
    assert r is not None, "round 2 is not registered: bnclaims lock --reason ... --register-round"
    assert (r["seed_base"], r["replication_base"]) == (round2.SEED_BASE, round2.REPLICATION_BASE)
    assert r["seed_base"] != round2.PILOT_BASE and len(r["code_hash"]) >= 16


def test_registration_commit_holds_the_round_entry():
    """REGISTERED_AT names the lock commit; in a git checkout, that commit's lock holds the same round entry."""
    if round2.REGISTERED_AT is None:
        pytest.skip("the registration commit is recorded by the commit after the lock commit")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    try:
        text = subprocess.run(["git", "show", f"{round2.REGISTERED_AT}:claims/prereg.lock.json"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"git cannot show the registration commit here (shallow clone?): {e}")
    then = json.loads(text)["rounds"][str(round2.ROUND)]
    now = prereg.load_lock(prereg.builtin_lock_path())["rounds"][str(round2.ROUND)]
    assert then == now


def test_report_banners_name_the_round():
    assert round2.banner(0)["kind"] == "pilot"
    assert round2.banner(round2.SEED_BASE)["kind"] == "confirmatory"
    assert round2.banner(round2.REPLICATION_BASE)["kind"] == "replication"
    assert round2.banner(7)["kind"] == "exploratory"
    if round2.REGISTERED_AT:
        assert round2.REGISTERED_AT[:12] in round2.banner(round2.SEED_BASE)["text"]
