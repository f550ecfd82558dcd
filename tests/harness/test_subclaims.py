"""Sub-claims: the verdict word each combination of evidence gives, the claim's headline, the direction of the
non-voting evidence, validation of declarations, and the map statistics (Tarone's eligible cells, corrected fails)."""
import pytest

from bnclaims.harness.declare import maps as rb
from bnclaims.harness.declare import subclaims as sc


def rec(hid, verdict, stance="supports", confirmatory=False, role="evidence"):
    return {"id": hid, "verdict": verdict, "hypothesis": {"stance": stance, "confirmatory": confirmatory,
                                                          "role": role}}


def decl(**kw):
    base = dict(id="C9.1", claim="C9", title="t", words="w", where="x")
    base.update(kw)
    return sc.SubClaim(**base).declaration()


def verdict(d, *records, maps=()):
    return sc.subclaim_verdict(d, {r["id"]: r for r in records}, maps)


def test_supported_needs_evidence_for_and_the_construct_valid_checks_for():
    d = decl(evidence=("A",), construct=("B",))
    assert verdict(d, rec("A", "reproduced"), rec("B", "reproduced"))["verdict"] == "supported"
    undecided = verdict(d, rec("A", "reproduced"), rec("B", "inconclusive"))
    assert undecided["verdict"] == "supported as measured, mechanism not tested" and "undecided (B)" in undecided["why"]
    missing = verdict(d, rec("A", "reproduced"))
    assert missing["verdict"] == "supported as measured, mechanism not tested" and "did not run" in missing["why"]
    assert verdict(decl(evidence=("A",)), rec("A", "reproduced"))["verdict"] == "supported"


def test_an_effect_inside_the_smallest_effect_of_interest_counts_for_nothing():
    r = rec("A", "reproduced")
    r["hypothesis"].update(sesoi=0.02, alpha=0.01)
    r["stats"] = {"p_tost_sesoi": 1e-6}
    out = verdict(decl(evidence=("A",)), r)
    assert out["verdict"] == "inconclusive" and "inside the smallest effect of interest: A" in out["why"]


def test_retired_checks_are_never_evidence():
    r = rec("A", "reproduced")
    r["hypothesis"]["retired"] = "measures |g|^2"
    assert verdict(decl(evidence=("A", "B")), r, rec("B", "inconclusive"))["verdict"] == "inconclusive"


def test_a_reading_fixed_by_construction_decides_nothing():
    d = decl(identity=("I",), definitions=(("BN's output", ("I",)), ("pre-norm", ("B",))))
    out = verdict(d, rec("I", "reproduced", stance="contradicts", role="identity"), rec("B", "inconclusive"))
    assert out["verdict"] == "inconclusive" and "by construction at BN's output" in out["why"]


def test_construct_against_means_mechanism_not_supported_and_names_the_simpler_cause():
    d = decl(evidence=("A",), construct=("B",), simpler="calibration")
    out = verdict(d, rec("A", "reproduced"), rec("B", "not reproduced"))
    assert out["verdict"] == "supported as measured, mechanism not supported"
    assert "calibration" in out["why"] and out["construct_against"] == ["B"]


def test_construct_valid_measures_that_split_make_it_mixed():
    d = decl(evidence=("A",), construct=("B", "C"))
    out = verdict(d, rec("A", "reproduced"), rec("B", "reproduced"), rec("C", "not reproduced"))
    assert out["verdict"] == "mixed" and "split" in out["why"]


def test_stance_contradicts_flips_the_direction():
    d = decl(evidence=("A",))
    assert verdict(d, rec("A", "reproduced", stance="contradicts"))["verdict"] == "not supported"
    assert verdict(d, rec("A", "not reproduced", stance="contradicts"))["verdict"] == "supported"


def test_mixed_inconclusive_and_not_tested():
    d = decl(evidence=("A", "B"))
    assert verdict(d, rec("A", "reproduced"), rec("B", "not reproduced"))["verdict"] == "mixed"
    assert verdict(d, rec("A", "inconclusive"))["verdict"] == "inconclusive"
    out = verdict(d)
    assert out["verdict"] == "not tested" and out["not_run"] == ["A", "B"]


def test_identity_only_is_true_by_construction_and_a_failed_identity_is_not():
    d = decl(identity=("I",))
    assert verdict(d, rec("I", "reproduced", role="identity"))["verdict"] == "true by construction"
    assert verdict(d, rec("I", "not reproduced", role="identity"))["verdict"] == "not supported"


def test_statistical_checks_decide_over_an_identity_and_not_tested_when_they_did_not_run():
    d = decl(evidence=("A",), identity=("I",))
    assert verdict(d, rec("I", "reproduced", role="identity"))["verdict"] == "not tested"
    assert verdict(d, rec("I", "reproduced", role="identity"), rec("A", "not reproduced"))["verdict"] == "not supported"


def test_depends_on_the_definition():
    d = decl(definitions=(("Ioffe", ("A",)), ("pre-norm", ("B",))))
    out = verdict(d, rec("A", "reproduced", stance="contradicts"), rec("B", "not reproduced", stance="contradicts"))
    assert out["verdict"] == "depends on the definition"
    assert out["why"] == "holds under pre-norm; reversed under Ioffe"


def test_a_map_with_failing_cells_qualifies_a_supported_statement():
    d = decl(evidence=("A",))
    cells = [{"status": s} for s in ("holds", "holds", "holds", "fails", "unclear", "underpowered")]
    m = {"hypothesis": "A", "cells": cells, "words": "A holds in 3 of 6 cells"}
    assert verdict(d, rec("A", "reproduced"), maps=[m])["verdict"] == "holds in 3 of 5 settings"
    m["cells"] = cells[:3] + cells[5:]           # an underpowered cell is no evidence that the claim fails there
    assert verdict(d, rec("A", "reproduced"), maps=[m])["verdict"] == "supported"


def test_headline_is_supported_only_when_every_tested_subclaim_is():
    rows = [{"id": "X.1", "title": "a", "verdict": "supported"}, {"id": "X.2", "title": "b", "verdict": "not tested"},
            {"id": "X.3", "title": "c", "verdict": "true by construction"}]
    assert sc.headline(rows)["word"] == "supported where tested (1 not tested)"
    assert sc.headline([rows[0], rows[2]])["word"] == "supported"
    rows[1]["verdict"] = "supported as measured, mechanism not supported"
    assert sc.headline(rows)["word"] == "partly supported"
    rows[0]["verdict"] = rows[1]["verdict"] = "not supported"
    assert sc.headline(rows)["word"] == "not supported"
    assert sc.headline([dict(rows[2])])["word"] == "true by construction"
    assert sc.headline(rows, profile="smoke")["word"] == "smoke run: no verdict"


def test_a_construct_check_against_blocks_a_supported_headline():
    rows = [{"id": "X.1", "title": "a", "verdict": "supported", "construct_against": ["B"]}]
    assert sc.headline(rows)["word"] == "partly supported"


def test_non_voting_direction_counts_exploratory_evidence_only():
    recs = [rec("A", "reproduced"), rec("B", "not reproduced"), rec("C", "inconclusive"),
            rec("V", "reproduced", confirmatory=True), rec("I", "reproduced", role="identity")]
    out = sc.non_voting_direction(recs)
    assert (out["for"], out["against"], out["undecided"]) == (["A"], ["B"], ["C"])
    assert out["words"] == "1 against, 1 for, 1 undecided"


@pytest.mark.parametrize("kw, msg", [(dict(id="C8.1"), "starts with"), (dict(evidence=()), "at least one"),
                                     (dict(kind="other"), "kind")])
def test_malformed_declarations_are_refused(kw, msg):
    base = dict(id="C9.1", claim="C9", title="t", words="w", where="x", evidence=("A",))
    base.update(kw)
    with pytest.raises(ValueError, match=msg):
        sc.SubClaim(**base)


def test_builtin_subclaims_name_registered_hypotheses():
    from bnclaims.harness.declare import registry
    cs = registry.claims()
    ids = {h.id for c in cs for h in c.hypotheses}
    for c in cs:
        for s in c.subclaims:
            assert set(s.ids()) <= ids, s.id


# ---- maps: only cells that can reach the threshold enter BH; fails are corrected like holds -------------------
def test_tarone_leaves_out_cells_whose_floor_cannot_reach_the_threshold():
    # four cells with floor 1/512 and three with 1/128: at alpha 0.01, K = 4 admits only the first four
    floors = [1 / 512] * 4 + [1 / 128] * 3
    assert rb.tarone_eligible(floors, 0.01) == [True] * 4 + [False] * 3
    assert rb.tarone_eligible([0.0] * 5, 0.01) == [True] * 5


def _cell(hid, cell, verdict, p, p_opp, n):
    return {"id": hid, "verdict": verdict, "extra": {"map_of": "H.a", "cell": cell} if cell else {},
            "stats": {"test": "wilcoxon", "n_x": n, "n_y": n, "p": p, "p_opposite": p_opp, "effect": 1.0,
                      "ci": [0.5, 1.5]}}


def test_build_map_marks_underpowered_cells_and_corrects_fails():
    decl = {"hypothesis": "H.a", "alpha": 0.01, "base": {"lr": 1.0}, "factors": {"lr": [0.1, 1.0, 10.0]},
            "grid_cells": 3}
    recs = {"H.a": _cell("H.a", None, "reproduced", 1 / 512, 1.0, 9),
            "H.a@lr=x0.1": _cell("H.a@lr=x0.1", {"lr": 0.1}, "reproduced", 1 / 128, 1.0, 7),
            "H.a@lr=x10": _cell("H.a@lr=x10", {"lr": 10.0}, "not reproduced", 0.9, 0.008, 9)}
    m = rb.build_map(decl, recs)
    status = {c["id"]: c["status"] for c in m["cells"]}
    # the n 7 cell (floor 1/128 > 0.01/2) cannot reach the threshold: underpowered, and it does not pull BH
    assert status["H.a@lr=x0.1"] == "underpowered" and status["H.a"] == "holds"
    # its opposite p 0.008 is BH-adjusted over the opposite p of the two eligible cells: 0.016 > 0.01, so not a
    # corrected failure
    assert status["H.a@lr=x10"] == "unclear"
    assert "underpowered" in m["words"]


def test_a_vote_that_survives_its_knock_out_does_not_support_the_mechanism():
    from bnclaims.harness.report import build as report
    sub = sc.subclaim_verdict(decl(evidence=("A",)), {"A": rec("A", "reproduced")})
    rows = [{"id": "C9", "subclaims": [sub]}]
    kos = {"rows": [{"vote": "A", "measured": True, "died": False, "removes": "the normalization",
                     "knockout_effect": 1e-4, "knockout_p": 0.002}]}
    report._apply_knockouts(rows, kos, "ci")
    assert sub["verdict"] == "supported as measured, mechanism not supported"
    assert sub["verdict_before_knockouts"] == "supported" and "A survives its knock-out" in sub["why"]
    assert rows[0]["headline"]["word"] == "partly supported"
    dead = sc.subclaim_verdict(decl(evidence=("A",)), {"A": rec("A", "reproduced")})
    report._apply_knockouts([{"id": "C9", "subclaims": [dead]}], {"rows": [dict(kos["rows"][0], died=True)]}, "ci")
    assert dead["verdict"] == "supported"


def test_votes_cap_the_reading_of_the_secondary_checks():
    """Round 2: no supported word without a confirmatory vote for it."""
    d = decl(evidence=("A",), construct=("B",))
    vote = lambda hid, v, **h: {**rec(hid, v, confirmatory=True), "hypothesis": {
        "stance": "supports", "confirmatory": True, "role": "evidence", **h}}
    # the construct-valid vote undecided while the worded check holds: inconclusive, the reading kept in why
    out = verdict(d, rec("A", "reproduced"), vote("B", "inconclusive", planned_power=0.1))
    assert out["verdict"] == "inconclusive" and out["vote"]["underpowered"] == ["B"]
    assert "secondary reading: supported as measured, mechanism not tested" in out["why"]
    # a construct-valid vote against: mechanism not supported; a worded vote against: not supported
    out = verdict(d, rec("A", "reproduced"), vote("B", "not reproduced"))
    assert out["verdict"] == "supported as measured, mechanism not supported"
    out = verdict(decl(evidence=("A",)), vote("A", "not reproduced"))
    assert out["verdict"] == "not supported" and out["vote"]["against"] == ["A"]
    # a vote for stands; the secondary checks' disagreement shows as mixed
    assert verdict(d, rec("A", "reproduced"), vote("B", "reproduced"))["verdict"] == "supported"
    assert verdict(d, rec("A", "not reproduced"), vote("B", "reproduced"))["verdict"] == "mixed"
    # no vote among the checks: the reading is the verdict, with no "vote" entry
    out = verdict(d, rec("A", "reproduced"), rec("B", "inconclusive"))
    assert out["verdict"] == "supported as measured, mechanism not tested" and "vote" not in out
