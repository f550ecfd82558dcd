"""Saved reports side by side: compare_reports finds verdict changes and effect drift between two report dicts
(format_comparison for a terminal, comparison_markdown for a pull request); merge_reports joins the reports of
one run's shards into the report the unsharded run would have written."""
from __future__ import annotations

from pathlib import Path

from bnclaims.harness.declare.evidence import fmt_ci, fmt_num
from bnclaims.harness.report.files import write_reports
from bnclaims.harness.report.markdown import md_cell
from bnclaims.harness.stats.verdict import id_key


# ---- comparing two saved reports -----------------------------------------------------------

def _overlap(a, b) -> bool:
    if not a or not b or None in a or None in b:
        return True
    return not (a[0] > b[1] or b[0] > a[1])


def compare_reports(old: dict, new: dict, *, effect_tol: float = 0.25, width_tol: float | None = None) -> dict:
    """Verdict changes, effect drift (relative change beyond effect_tol; with width_tol, a move beyond that fraction
    of the old 95% CI's width; or CIs that no longer overlap), and hypotheses added or removed between two report
    dicts."""
    o = {r["id"]: r for r in old["hypotheses"]}
    n = {r["id"]: r for r in new["hypotheses"]}
    common = sorted(o.keys() & n.keys(), key=id_key)
    cmp = {"old_profile": old.get("run", {}).get("profile"), "new_profile": new.get("run", {}).get("profile"),
           "old_seed_base": old.get("run", {}).get("seed_base"), "new_seed_base": new.get("run", {}).get("seed_base"),
           "common": len(common),
           "verdict_changes": [], "effect_drift": [],
           "added": sorted(n.keys() - o.keys(), key=id_key), "removed": sorted(o.keys() - n.keys(), key=id_key),
           "claim_changes": []}
    for hid in common:
        a, b = o[hid], n[hid]
        ea, eb = a["stats"].get("effect"), b["stats"].get("effect")
        if a["verdict"] != b["verdict"]:
            cmp["verdict_changes"].append({"id": hid, "old": a["verdict"], "new": b["verdict"], "old_effect": ea,
                                           "new_effect": eb, "old_ci": a["stats"].get("ci"),
                                           "new_ci": b["stats"].get("ci")})
        reasons = []
        rel = None
        if isinstance(ea, (int, float)) and isinstance(eb, (int, float)):
            if ea != 0:
                rel = abs(eb - ea) / abs(ea)
                if rel > effect_tol:
                    reasons.append(f"effect changed by {rel:.0%} (tolerance {effect_tol:.0%})")
            elif eb != 0:
                reasons.append("effect moved away from exactly 0")
        ci = a["stats"].get("ci")
        if (width_tol is not None and isinstance(ea, (int, float)) and isinstance(eb, (int, float)) and ci
                and None not in ci and ci[1] > ci[0] and abs(eb - ea) > width_tol * (ci[1] - ci[0])):
            reasons.append(f"effect moved by {abs(eb - ea) / (ci[1] - ci[0]):.2g} of the interval's width "
                           f"(tolerance {width_tol:g})")
        if not _overlap(a["stats"].get("ci"), b["stats"].get("ci")):
            reasons.append("95% CIs no longer overlap")
        if reasons:
            cmp["effect_drift"].append({"id": hid, "old_effect": ea, "new_effect": eb, "rel_change": rel,
                                        "old_ci": a["stats"].get("ci"), "new_ci": b["stats"].get("ci"),
                                        "reason": "; ".join(reasons)})
    oc = {c["id"]: c for c in old.get("claims", [])}
    for c in new.get("claims", []):
        prev = oc.get(c["id"])
        if prev and prev["verdict"] != c["verdict"] and sorted(prev["hypotheses"]) == sorted(c["hypotheses"]):
            cmp["claim_changes"].append({"id": c["id"], "old": prev["verdict"], "new": c["verdict"]})
        old_sub = {x["id"]: x["verdict"] for x in (prev or {}).get("subclaims") or []}
        for x in c.get("subclaims") or []:
            if x["id"] in old_sub and old_sub[x["id"]] != x["verdict"]:
                cmp.setdefault("subclaim_changes", []).append({"id": x["id"], "old": old_sub[x["id"]],
                                                               "new": x["verdict"]})
    return cmp


def format_comparison(cmp: dict) -> str:
    lines = []
    if cmp.get("old_profile") != cmp.get("new_profile"):
        lines.append(f"note: comparing profile {cmp.get('old_profile')} (old) with {cmp.get('new_profile')} (new)")
    if cmp["verdict_changes"]:
        lines.append(f"verdict changes ({len(cmp['verdict_changes'])}):")
        lines += [f"  {c['id']}: {c['old']} -> {c['new']}" for c in cmp["verdict_changes"]]
    for c in cmp.get("claim_changes", []):
        lines.append(f"  claim {c['id']}: {c['old']} -> {c['new']}")
    for c in cmp.get("subclaim_changes", []):
        lines.append(f"  sub-claim {c['id']}: {c['old']} -> {c['new']}")
    if cmp["effect_drift"]:
        lines.append(f"effect drift ({len(cmp['effect_drift'])}):")
        lines += [f"  {d['id']}: effect {fmt_num(d['old_effect'])} {fmt_ci(d['old_ci'])} -> "
                  f"{fmt_num(d['new_effect'])} {fmt_ci(d['new_ci'])}: {d['reason']}" for d in cmp["effect_drift"]]
    if cmp["added"]:
        lines.append("added: " + ", ".join(cmp["added"]))
    if cmp["removed"]:
        lines.append("removed: " + ", ".join(cmp["removed"]))
    if not (cmp["verdict_changes"] or cmp["effect_drift"] or cmp["added"] or cmp["removed"]):
        lines.append("no verdict changes, no effect drift")
    return "\n".join(lines)


def comparison_markdown(cmp: dict, old_label: str = "old", new_label: str = "new") -> str:
    """The comparison as a Markdown section for a pull-request comment: verdict changes and effect drift with
    the old and new effects and intervals side by side, claim changes, hypotheses added or removed."""
    def run(p, b):
        return f"profile {p}, seed base {b}"

    def eff(e, ci):
        return f"{fmt_num(e, 3)} {fmt_ci(ci)}".strip()

    n_v, n_d = len(cmp["verdict_changes"]), len(cmp["effect_drift"])
    head = ("no verdict changes" if not n_v else f"**{n_v} verdict change{'s' * (n_v != 1)}**")
    out = [f"### bnclaims: {head}, {n_d} effect drift{'s' * (n_d != 1)}", "",
           f"{old_label} ({run(cmp.get('old_profile'), cmp.get('old_seed_base'))}) -> {new_label} "
           f"({run(cmp.get('new_profile'), cmp.get('new_seed_base'))}); {cmp.get('common', '?')} hypotheses in both.", ""]
    if cmp["verdict_changes"] or cmp.get("claim_changes"):
        out += ["| hypothesis | old verdict | new verdict | old effect [95% CI] | new effect [95% CI] |",
                "|---|---|---|---|---|"]
        out += [f"| {c['id']} | {c['old']} | **{c['new']}** | {eff(c.get('old_effect'), c.get('old_ci'))} | "
                f"{eff(c.get('new_effect'), c.get('new_ci'))} |" for c in cmp["verdict_changes"]]
        out += [f"| claim {c['id']} | {c['old']} | **{c['new']}** | | |" for c in cmp.get("claim_changes", [])]
        out.append("")
    if cmp["effect_drift"]:
        out += ["| hypothesis | old effect [95% CI] | new effect [95% CI] | why flagged |", "|---|---|---|---|"]
        out += [f"| {d['id']} | {eff(d['old_effect'], d['old_ci'])} | {eff(d['new_effect'], d['new_ci'])} | "
                f"{md_cell(d['reason'])} |" for d in cmp["effect_drift"]]
        out.append("")
    if cmp["added"]:
        out.append("Added: " + ", ".join(cmp["added"]) + ".")
    if cmp["removed"]:
        out.append("Removed: " + ", ".join(cmp["removed"]) + ".")
    return "\n".join(out).rstrip() + "\n"


# ---- merging shard reports -----------------------------------------------------------------

class MergeError(ValueError):
    """Shard reports that cannot be one run's report (another profile or seed base, a hypothesis twice)."""


def merge_reports(reports: list[dict], outdir) -> dict[str, Path]:
    """Write the report that one unsharded run would have written from the reports of its shards
    (`--claims-shard K/N`): the same evidence, claims, controls and multiplicity; only timing differs."""
    if not reports:
        raise MergeError("give at least one report")
    keys = {(r.get("run", {}).get("profile"), r.get("run", {}).get("seed_base"), r.get("schema"),
             r.get("run", {}).get("data_draw", "fixed")) for r in reports}
    if len(keys) > 1:
        raise MergeError(f"the reports come from different runs (profile, seed base, schema, data draw): "
                         f"{sorted(keys, key=str)}")
    labels = [r.get("run", {}).get("shard") for r in reports]
    if any(labels):
        n = str(labels[0]).split("/")[-1]
        if None in labels or not n.isdigit() or sorted(labels) != sorted(f"{k}/{n}" for k in range(1, int(n) + 1)):
            raise MergeError(f"the shard reports do not make up one run: got shards {labels}; give each of "
                             f"1/N ... N/N exactly once")
    records, seen, controls, missing, not_run = [], {}, [], {}, {}
    for i, rep in enumerate(reports):
        for h in rep["hypotheses"]:
            if h["id"] in seen:
                raise MergeError(f"{h['id']} is in report {seen[h['id']] + 1} and report {i + 1}: shards of one "
                                 "run never share a hypothesis")
            seen[h["id"]] = i
            rec = {k: v for k, v in h.items() if k not in ("null_control", "amendments")}
            rec["wall_s"] = (rep.get("timing", {}).get("wall_s") or {}).get(h["id"])
            records.append(rec)
        controls += rep.get("controls") or []
        missing.update({m["id"]: m for m in rep.get("missing") or []})
        not_run.update({n["id"]: n for n in rep.get("not_run") or []})
    run = {k: v for k, v in reports[0].get("run", {}).items() if k != "shard"}
    run["timing"] = {"workers": (reports[0].get("timing") or {}).get("workers"), "merged_shards": len(reports)}
    controls = sorted(controls, key=lambda c: (id_key(c["id"]), c["control"]))
    return write_reports(records, outdir, run_info=run, missing=[m for k, m in missing.items() if k not in seen],
                         controls=controls, not_run=list(not_run.values()))
