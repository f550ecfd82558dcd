"""report.json from the evidence records of a run: build_report joins records, controls, amendments, maps,
sub-claim verdicts and knock-outs into the report dict that every renderer reads. No IO but the declared
amendments and knock-out results; files.py writes it, markdown.py, html.py and figures.py render it."""
from __future__ import annotations

import json
import math
from pathlib import Path

from bnclaims.harness.declare.evidence import fmt_num, to_builtin
from bnclaims.harness.declare.maps import build_map, is_cell
from bnclaims.harness.declare import subclaims as sc
from bnclaims.harness.stats.verdict import claim_verdict, id_key

REPORT_SCHEMA = 1


# ---- multiplicity ----------------------------------------------------------------------------

def multiplicity(records: list[dict]) -> dict:
    """Holm and BH adjusted p over the voting hypotheses that report a p value: views beside the verdict,
    which already decides each at its allocated (Bonferroni) alpha."""
    from bnclaims.harness.stats.verdict import votes
    rows = [r for r in records if votes(r["hypothesis"]) and isinstance(r["stats"].get("p"), (int, float))]
    rows.sort(key=lambda r: id_key(r["id"]))
    p = [float(r["stats"]["p"]) for r in rows]
    from bnclaims.harness.stats import multiplicity as stats  # scipy.stats is slow to import; only reports need it
    holm, bh = (to_builtin(stats.holm(p)), to_builtin(stats.bh(p))) if p else ([], [])
    return {"scope": "voting hypotheses (confirmatory evidence) with a p value", "ids": [r["id"] for r in rows],
            "p": p, "alpha": [r["hypothesis"].get("alpha") for r in rows], "holm": holm, "bh": bh}


# ---- building ---------------------------------------------------------------------------------

def build_report(records: list[dict], *, run_info: dict, missing=(), controls=(), not_run=()) -> dict:
    """The report.json document. Wall times go under "timing" so runs compare on content only."""
    records = sorted((dict(r) for r in records), key=lambda r: id_key(r["id"]))
    ids = [r["id"] for r in records]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"several evidence records for {', '.join(dup)}; one test per hypothesis")
    timing = {"wall_s": {}}
    for r in records:
        timing["wall_s"][r["id"]] = r.pop("wall_s", None)
        r.pop("worker", None)
    info = dict(run_info)
    timing.update(info.pop("timing", {}) or {})
    profile = info.get("profile") or (records[0]["profile"] if records else "ci")
    info["profile"] = profile
    missing = sorted((dict(m) for m in missing), key=lambda m: id_key(m["id"]))
    by_id: dict = {}
    for c in controls:
        by_id.setdefault(c["id"], []).append(c)
    amendments = _amendments()
    for r in records:
        mine = by_id.get(r["id"], [])
        null = [c for c in mine if c.get("kind") == "null"]
        if null:
            r["null_control"] = null[0]
            void_on_null(r)
        if amendments.get(r["id"]):
            r["amendments"] = amendments[r["id"]]

    claims = {}
    for r in records:
        claims.setdefault(r["claim"]["id"], dict(r["claim"]))
    for m in missing:
        claims.setdefault(m["claim"]["id"], dict(m["claim"]))
    claim_rows = []
    by_hid = {r["id"]: r for r in records if not is_cell(r["id"])}
    kos = knockout_table(profile, info.get("seed_base", 0)) if any(c.get("subclaims") for c in claims.values()) else None
    for cid in sorted(claims, key=id_key):
        every = [r for r in records if r["claim"]["id"] == cid]
        recs = [r for r in every if not is_cell(r["id"])]      # robustness-map cells do not vote
        miss = [{"id": m["id"], "title": m["hypothesis"].get("title", ""),
                 "confirmatory": m["hypothesis"].get("confirmatory", True),
                 "role": m["hypothesis"].get("role", "evidence")}
                for m in missing if m["claim"]["id"] == cid]
        row = dict(claims[cid])
        row.update(claim_verdict(recs, profile, miss, fwer=claims[cid].get("fwer")))
        row["hypotheses"] = [r["id"] for r in recs] + [m["id"] for m in miss]
        maps = [build_map(decl, {r["id"]: r for r in every}, [c for c in controls if is_cell(c["id"])])
                for decl in claims[cid].get("maps") or []]
        for m in maps:                    # a map's amendments show under the map
            if amendments.get(f"{m['hypothesis']}@map"):
                m["amendments"] = amendments[f"{m['hypothesis']}@map"]
        if maps:
            row["robustness"] = maps
        if any(m["run"] for m in maps):       # a map with no cell in this profile says nothing
            row["where"] = " ".join(m["words"] + "." for m in maps if m["run"])
            row["detail"] = f"{row['detail']}. Where it holds: {row['where']}"
        decls = claims[cid].get("subclaims") or []
        row["non_voting"] = sc.non_voting_direction(recs, sc.side_only_ids(decls))
        if decls:
            row.update(judge_claim(decls, by_hid, maps, profile, kos, amendments))
        claim_rows.append(row)

    nulls = [c for c in controls if c.get("kind") == "null" and isinstance(c.get("alpha"), (int, float))
             and not is_cell(c["id"])]          # a map's null cells are counted by its map
    gating = [c for c in nulls if c.get("gating", True)]
    null_rate = {"controls": len(nulls), "reproduced": sum(c.get("verdict") == "reproduced" for c in nulls),
                 "expected_any": 1 - math.prod(1 - c["alpha"] for c in nulls) if nulls else None,
                 "sum_alpha": sum(c["alpha"] for c in nulls),
                 "gating": len(gating), "gating_reproduced": sum(c.get("verdict") == "reproduced" for c in gating),
                 "gating_expected_any": 1 - math.prod(1 - c["alpha"] for c in gating) if gating else None,
                 "sum_claim_fwer": sum(c.get("fwer") or 0 for c in claim_rows),
                 "note": "under no effect anywhere, the chance that at least one null control is reproduced at a "
                         "seed base (at most the sum of their alphas; benchmarks/repeat_rates.py measures it). "
                         "Only the null controls of voting hypotheses gate (the others are xfailed when they "
                         "reproduce), so a suite failure from them has probability about the sum of the claims' "
                         "family-wise alphas."}
    pilot = (sc.PILOT_NOTE if info.get("seed_base", 0) == sc.PILOT_BASE and profile != "smoke" else None)
    return to_builtin({"schema": REPORT_SCHEMA, "run": info, "claims": claim_rows, "pilot": pilot,
                       "round": round_banner(info.get("seed_base", 0), profile, info.get("data_draw", "fixed")),
                       "hypotheses": records, "missing": missing, "controls": list(controls),
                       "not_run": sorted((dict(n) for n in not_run), key=lambda n: id_key(n["id"])),
                       "null_controls": null_rate, "multiplicity": multiplicity(records), "timing": timing,
                       "knockouts": kos})


def knockout_table(profile: str, seed_base) -> dict | None:
    """The declared knock-outs of the votes (the module a pack names as KNOCKOUTS: claims/knockouts.py for bnclaims'
    own) joined with the measured results that benchmarks/knockouts.py wrote for this profile and seed base
    (knockouts.results.json beside that module); None if no pack declares knock-outs. A knock-out not measured at
    this profile and seed base says so."""
    ko = _pack_module("knockouts")
    if ko is None:
        return None
    path = Path(ko.__file__).with_name("knockouts.results.json")
    measured, where = {}, None
    try:
        res = json.loads(path.read_text())
        if res.get("profile") == profile and res.get("seed_base") == seed_base:
            measured = {r["key"]: r for r in res.get("rows", [])}
            where = {"commit": res.get("commit"), "declarations_sha256": res.get("declarations_sha256"),
                     "current": res.get("declarations_sha256") == ko.declarations_sha256()}
    except (OSError, ValueError, AttributeError):
        pass
    rows = []
    for k in ko.KNOCKOUTS:
        d = k.describe()
        m = measured.get(d["key"], {})
        rows.append({"key": d["key"], "vote": d["vote"], "subclaim": d["subclaim"], "removes": d["removes"],
                     "note": d.get("note", ""), "measured": bool(m), "vote_verdict": m.get("vote_verdict"),
                     "vote_effect": m.get("vote_effect"), "knockout_verdict": m.get("knockout_verdict"),
                     "knockout_effect": m.get("knockout_effect"), "knockout_ci": m.get("knockout_ci"),
                     "knockout_p": m.get("knockout_p"), "died": m.get("died")})
    return {"source": "benchmarks/knockouts.py (claims/knockouts.results.json)", "profile": profile,
            "seed_base": seed_base, "measured_at": where, "rows": rows,
            "rule": "A knock-out removes the mechanism its vote names; the vote died when the knocked-out check is "
                    "not reproduced. A vote that survives its knock-out measures something else."}


def judge_claim(decls: list[dict], by_hid: dict, maps, profile: str, kos: dict | None, amendments=None) -> dict:
    """{"subclaims", "headline"} of one claim: each sub-claim's verdict (harness.declare.subclaims), its amendments, and the
    knock-outs measured at this profile and seed base applied. The report and the terminal both judge through here."""
    rows = [sc.subclaim_verdict(d, by_hid, maps, profile) for d in decls]
    for x in rows:
        if (amendments or {}).get(x["id"]):
            x["amendments"] = amendments[x["id"]]
    out = {"subclaims": rows, "headline": sc.headline(rows, profile)}
    if kos:
        _apply_knockouts([out], kos, profile)
    return out


def _apply_knockouts(claim_rows: list[dict], kos: dict, profile: str) -> None:
    """A vote that survives its knock-out (measured at this profile and seed base) measures something besides the
    mechanism it names: a sub-claim supported through it is "supported as measured, mechanism not supported"."""
    survived: dict = {}
    for k in kos["rows"]:
        if k["measured"] and k["died"] is False:
            survived.setdefault(k["vote"], []).append(k)
    for row in claim_rows:
        changed = False
        for x in row.get("subclaims") or []:
            hit = [v for v in x.get("evidence_for", []) if v in survived]
            if not hit or not (x["verdict"] in ("supported", "supported as measured, mechanism not tested")
                               or x["verdict"].startswith("holds in")):
                continue
            x["verdict_before_knockouts"] = x["verdict"]
            x["verdict"] = "supported as measured, mechanism not supported"
            x["knockouts_survived"] = hit
            x["why"] += "; " + "; ".join(f"{v} survives its knock-out ({k['removes']}; effect "
                                         f"{fmt_num(k['knockout_effect'], 3)}, p {fmt_num(k['knockout_p'], 3)}): it "
                                         "measures something besides that mechanism" for v in hit for k in survived[v])
            changed = True
        if changed:
            row["headline"] = sc.headline(row["subclaims"], profile)


def _pack_module(what: str):
    """The module an installed claim pack names as ROUND or KNOCKOUTS (declare.registry.pack), or None. The
    framework knows no pack by name; bnclaims' own names claims/round2.py and claims/knockouts.py."""
    import importlib
    from bnclaims.harness.declare import registry
    for found in registry.installed_packs():
        target = getattr(found, what)
        if target:
            try:
                return importlib.import_module(target)
            except ImportError:
                continue
    return None


def _amendments() -> dict:
    """Amendments to the installed packs' declarations (each pack's AMENDMENTS), by hypothesis id; {} if none."""
    from bnclaims.harness.declare import prereg, registry
    out: dict = {}
    for found in registry.installed_packs():
        path = found.amendments
        try:
            for hid, entries in (prereg.load_amendments(path) if path else {}).items():
                out.setdefault(hid, []).extend(entries)
        except FileNotFoundError:
            continue
    return out


def void_on_null(r: dict) -> None:
    """A check whose null control reproduced has no verdict: the same pipeline found an effect where there is
    none, so its own verdict is void and reads inconclusive (verdict_before_null keeps what it measured). The run
    also fails when that control gates (a vote's): see harness.stats.verdict.control_outcome."""
    nc = r.get("null_control") or {}
    if nc.get("verdict") != "reproduced" or r.get("verdict") == "inconclusive" or "verdict_before_null" in r:
        return
    r["verdict_before_null"] = r.get("verdict")
    r["verdict"] = "inconclusive"
    st = r.setdefault("stats", {})
    st["reason"] = (f"void: its null control {nc.get('control')!r} reproduced (p {nc.get('p')}) - the pipeline "
                    f"shows an effect without one; measured: {r['verdict_before_null']} ({st.get('reason', '')})")


DATA_DRAW_NOTE = ("Each seed drew its own MNIST-1D data set (--data-draw per-seed), while the round was registered "
                  "and run with every seed on one sample (data seed 42). This run is a secondary analysis of the "
                  "same declarations: what the verdicts say about the data-generating process. It does not vote.")


def round_banner(seed_base: int, profile: str, data_draw: str = "fixed") -> dict | None:
    """The registered round this seed base belongs to (the module a pack names as ROUND), for the first screen; a
    run whose seeds drew their own data sets says it is not the registered design."""
    if profile == "smoke":
        return None
    round2 = _pack_module("round")
    if round2 is None:
        return None
    b = round2.banner(int(seed_base))
    if b is None or b["kind"] == "pilot":
        return None
    if data_draw != "fixed":
        b = {**b, "kind": "secondary analysis", "text": f"{DATA_DRAW_NOTE} The registered round: {b['text']}"}
    return b
