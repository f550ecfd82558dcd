"""report.md: the blocks of walk.walk(report) marked up as Markdown, figures linked under figures/ by the file
names figures.py gives them."""
from __future__ import annotations

from bnclaims.harness.declare.evidence import fmt_ci, fmt_num
from bnclaims.harness.report import summary as sm
from bnclaims.harness.report.figures import FOREST_ID, figure_files
from bnclaims.harness.report.walk import (COLUMNS, cell_label, details, died, knockout_source, model_lines,
                                          table_row, walk)


def render_markdown(report: dict, files: dict[str, str] | None = None) -> str:
    """The report as Markdown; files: figure id -> file name under figures/ (default: the evidence's figures)."""
    files = figure_files(report) if files is None else files
    return "\n".join(_lines(walk(report), files)) + "\n"


def _lines(blocks: list[tuple], files: dict) -> list[str]:
    return [line for kind, *fields in blocks for line in _BLOCKS[kind](files, *fields)]


def md_cell(s) -> str:
    """Text safe inside a Markdown table cell (and in link text): no markup, no pipe, one line."""
    return (str(s).replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " "))


# ---- the head and the first screen ---------------------------------------------------------------

def _head(files, run_line) -> list[str]:
    return ["# bnclaims report", "", run_line, ""]


def _screen(files, blocks) -> list[str]:
    return ["## At a glance", ""] + _lines(blocks, files)


def _banner(files, tone, title, text) -> list[str]:
    return [f"> **{title}.** {text}", ""]


def _cards(files, cards, maps) -> list[str]:
    out = ["| claim | headline | sub-claims | voting evidence | non-voting evidence | where it holds | "
           "family-wise alpha |", "|---|---|---|---|---|---|---|"]
    out += [f"| [{k['id']}](#{k['id'].lower()}) | **{k['headline']}** | {md_cell(_subclaim_list(k) or '-')} | "
            f"{k['verdict']}: {_card_counts(k)} | {md_cell(k['non_voting'] or '-')} | "
            f"{md_cell(k['holds'] or '-')} | {fmt_num(k['fwer'])} |" for k in cards]
    out.append("")
    for cid, rm in maps:
        fid = sm.map_figure_id(rm["hypothesis"])
        if fid in files:
            out += [f"**{cid}, where {rm['hypothesis']} holds.** {md_cell(rm['model']['words'])}.", "",
                    f"![{md_cell(sm.map_caption(rm))}](figures/{files[fid]})", "", f"*{sm.map_caption(rm)}*", ""]
    return out


def _card_counts(k: dict) -> str:
    return (f"{len(k['for'])} for, {len(k['against'])} against, {len(k['undecided'])} undecided"
            + (f" (+{k['exploratory']} exploratory)" if k["exploratory"] else ""))


def _subclaim_list(k: dict) -> str:
    return "; ".join(f"{x['id']} {x['title']}: {x['verdict']}" for x in k["subclaims"])


def _forest(files, left) -> list[str]:
    out = []
    if FOREST_ID in files:
        out += [f"![{md_cell(sm.FOREST_CAPTION)}](figures/{files[FOREST_ID]})", "", f"*{sm.FOREST_CAPTION}*", ""]
    if left:
        out += [f"Not on the forest plot (no standardized effect): {', '.join(left)}.", ""]
    return out


def _figure_index(files, fids) -> list[str]:
    shown = [fid for fid in fids if fid in files]
    if not shown:
        return []
    return ["Figures: " + ", ".join(f"[{fid}](figures/{files[fid]})" for fid in shown) + ".", ""]


# ---- the claims ----------------------------------------------------------------------------------

def _claims(files, claims) -> list[str]:
    return ["## Claims", "", "| claim | verdict | family-wise alpha | voting hypotheses | hypotheses |",
            "|---|---|---|---|---|"] + [
        f"| [{c['id']}](#{c['id'].lower()}) | {c['verdict']} | {fmt_num(c.get('fwer'))} | "
        f"{', '.join(c.get('alpha_allocated') or []) or '-'} | {', '.join(c['hypotheses'])} |" for c in claims]


def _claim(files, c, blocks) -> list[str]:
    return ["", f"## {c['id']}", "", md_cell(c.get("text", "")), "",
            f"*Source:* {md_cell(c.get('source', ''))}"
            + ("" if c.get("article", True) else " *(a check beyond the article)*"), "",
            (f"**Headline: {c['headline']['word']}.** Voting verdict: {c['verdict']} ({md_cell(c['detail'])})"
             if c.get("headline") else f"**Overall verdict: {c['verdict']}** ({md_cell(c['detail'])})"), ""
            ] + _lines(blocks, files)


def _non_voting(files, words) -> list[str]:
    return [f"Non-voting evidence: {words}.", ""]


def _subclaims(files, rows) -> list[str]:
    out = ["| sub-claim | the article says | verdict | why | where |", "|---|---|---|---|---|"]
    out += [f"| {x['id']} {md_cell(x['title'])} | {md_cell(x['words'])} | **{x['verdict']}** | "
            f"{md_cell(x['why'])} | {md_cell(x['where'])} |" for x in rows]
    out.append("")
    return out + [f"- *amendment to sub-claim {x['id']}* ({a.get('date')}): {md_cell(a.get('change'))} Reason: "
                  f"{md_cell(a.get('reason'))}" for x in rows for a in x.get("amendments") or []]


def _records(files, title, rows) -> list[str]:
    return ([f"**{title}**", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
            + ["| " + " | ".join(md_cell(x) for x in table_row(r)) + " |" for r in rows] + [""])


def _details(files, recs) -> list[str]:
    return [f"- **{r['id']}**: " + "; ".join(f"*{k}:* {md_cell(v)}" for k, v in details(r)) for r in recs]


def _missing(files, m) -> list[str]:
    return [f"\n- {m['id']}: no evidence (pytest outcome: {m.get('outcome', '?')})"]


def _not_run(files, n) -> list[str]:
    return [f"\n- {n['id']} ({md_cell(n['title'])}): not run in this profile; runs in "
            f"{', '.join(n['profiles'])} (or selected by its id)"]


def _map(files, rm) -> list[str]:
    out = ["", f"### Where {rm['hypothesis']} holds: {rm['summary']} (of {rm['grid_cells']} in the survey grid)",
           "", md_cell(rm["words"]) + ".", ""] + [x for line in model_lines(rm) for x in (md_cell(line), "")] + [
           "| cell | effect [95% CI] | p | BH q | verdict | map |",
           "|---|---|---|---|---|---|"]
    out += [f"| {cell_label(x)} | {fmt_num(x['effect'], 3)} {fmt_ci(x['ci'])} | {fmt_num(x['p'], 3)} | "
            f"{fmt_num(x['q_bh'], 3)} | {x['verdict']} | {x['status']} |" for x in rm["cells"]]
    out += ["", "| factor | level | cells | holds | median effect | sign flips |", "|---|---|---|---|---|---|"]
    out += [f"| {f} | {row['level']} | {row['cells']} | {row['holds']} | {fmt_num(row['median_effect'], 3)} | "
            f"{'yes' if row['flips'] else 'no'} |" for f, rows in rm["main_effects"].items() for row in rows]
    return out


def _figures(files, specs) -> list[str]:
    return ["", "### Figures", ""] + [f"![{md_cell(s.get('title') or s['id'])}](figures/{files[s['id']]})"
                                      for s in specs]


# ---- after the claims ----------------------------------------------------------------------------

def _knockouts(files, ko) -> list[str]:
    out = ["", "## Knock-outs: does each vote die without its mechanism?", "", ko["rule"], "", knockout_source(ko),
           "", "| vote | sub-claim | knock-out removes | vote | knock-out effect [95% CI] | p | knock-out verdict | vote |",
           "|---|---|---|---|---|---|---|---|"]
    return out + [f"| {x['key']} | {x['subclaim']} | {md_cell(x['removes'])} | {x['vote_verdict'] or '-'} | "
                  f"{fmt_num(x['knockout_effect'], 3)} {fmt_ci(x['knockout_ci'], 3)} | {fmt_num(x['knockout_p'], 3)} | "
                  f"{x['knockout_verdict'] or '-'} | **{died(x)}** |" for x in ko["rows"]]


def _multiplicity(files, mult) -> list[str]:
    out = ["", "## Suite-level multiplicity", "",
           f"Adjusted p over the {len(mult['ids'])} {mult['scope']} (Holm: family-wise; BH: false discovery rate).",
           "", "| hypothesis | p | Holm | BH | alpha |", "|---|---|---|---|---|"]
    return out + [f"| {hid} | {fmt_num(mult['p'][i], 3)} | {fmt_num(mult['holm'][i], 3)} | "
                  f"{fmt_num(mult['bh'][i], 3)} | {fmt_num(mult['alpha'][i])} |" for i, hid in enumerate(mult["ids"])]


def _controls(files, ctl, nr) -> list[str]:
    bad = [c for c in ctl if c.get("outcome") == "failed"]
    out = ["", "## Controls", "", f"{len(ctl) - len(bad)} of {len(ctl)} controls showed what they "
           "should (each is a test item of its own; see each hypothesis's design for what it replaces). "
           "*null*: A/A on disjoint seeds (or a declared null against a fixed comparator), which can "
           "reproduce by chance at its alpha; *plumbing*: identical runs, which test the plumbing, not error "
           "rates; *negative*/*positive*: the effect removed or reversed / expected.", ""]
    if nr.get("controls"):
        out += [f"{nr['reproduced']} of {nr['controls']} null controls reproduced; with no effect anywhere, "
                f"at least one would at a given seed base with probability about "
                f"{fmt_num(nr.get('expected_any'), 3)} (sum of their alphas {fmt_num(nr.get('sum_alpha'), 3)}). "
                f"{nr.get('gating_reproduced')} of the {nr.get('gating')} that gate (those of voting hypotheses) "
                f"reproduced; at least one would with probability about {fmt_num(nr.get('gating_expected_any'), 3)}"
                f" (the claims' family-wise alphas sum to {fmt_num(nr.get('sum_claim_fwer'), 3)}).", ""]
    out += ["| hypothesis | control | kind | verdict | alpha | p | outcome |", "|---|---|---|---|---|---|---|"]
    return out + [f"| {c['id']} | {c['control']} | {c.get('kind', '')} | {c['verdict']} | {fmt_num(c.get('alpha'), 3)} | "
                  f"{fmt_num(c.get('p'), 3)} | {c['outcome']} |" for c in ctl]


_BLOCKS = {"head": _head, "screen": _screen, "banner": _banner, "cards": _cards, "forest": _forest,
           "figure_index": _figure_index, "claims": _claims, "claim": _claim, "non_voting": _non_voting,
           "subclaims": _subclaims, "records": _records, "details": _details, "missing": _missing,
           "not_run": _not_run, "map": _map, "figures": _figures, "knockouts": _knockouts,
           "multiplicity": _multiplicity, "controls": _controls}
