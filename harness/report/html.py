"""report.html: the blocks of walk.walk(report) marked up as one self-contained page, each figure embedded as a
base64 PNG from the file figures.py wrote (a figure whose file is absent is left out)."""
from __future__ import annotations

import base64
import re
from html import escape as e        # the standard library's (this module is bnclaims.harness.report.html)
from pathlib import Path

from bnclaims.harness.declare.evidence import fmt_ci, fmt_num
from bnclaims.harness.report import summary as sm
from bnclaims.harness.report.figures import FOREST_ID
from bnclaims.harness.report.walk import (COLUMNS, cell_label, details, died, knockout_source, model_lines,
                                          table_row, walk)


def render_html(report: dict, figure_paths: dict[str, Path] | None = None) -> str:
    """One self-contained page; figure_paths: figure id -> PNG file (default: no figures)."""
    paths = figure_paths or {}
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>bnclaims report</title>", f"<style>{_CSS}</style></head><body>"]
    return "\n".join(out + _lines(walk(report), paths) + ["</body></html>"]) + "\n"


def _lines(blocks: list[tuple], paths: dict) -> list[str]:
    return [line for kind, *fields in blocks for line in _BLOCKS[kind](paths, *fields)]


def _shown(paths: dict, fid: str) -> Path | None:
    """The PNG of a figure id, if its file is there to embed."""
    path = paths.get(fid)
    return path if path is not None and Path(path).exists() else None


def _img(path, caption: str, attrs: str = "") -> str:
    """An embedded PNG whose alt text is its caption; attrs: further attributes, already escaped."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img {attrs + " " if attrs else ""}src="data:image/png;base64,{data}" alt="{e(caption)}">'


def _cls(verdict: str) -> str:
    """The CSS class that colours a verdict."""
    if verdict.startswith(("supported as measured", "holds in ", "depends on", "partly", "supported where")):
        return "v-qualified"
    return "v-" + re.sub(r"[^a-z]+", "-", verdict.split(" (")[0].split(":")[0].lower()).strip("-")


def _statement_cell(text: str) -> str:
    """A long statement folds behind its first words."""
    if len(text) <= 90:
        return e(text)
    return f"<details><summary>{e(text[:80].rsplit(' ', 1)[0])} ...</summary>{e(text)}</details>"


# ---- the head and the first screen ---------------------------------------------------------------

def _head(paths, run_line) -> list[str]:
    return ["<h1>bnclaims report</h1>", f"<p>{e(run_line.replace('**', ''))}</p>"]


def _screen(paths, blocks) -> list[str]:
    return ['<section id="summary"><h2>At a glance</h2>'] + _lines(blocks, paths) + ["</section>"]


def _banner(paths, tone, title, text) -> list[str]:
    return [f'<p class="{e(tone)}"><b>{e(title)}.</b> {e(text)}</p>']


def _cards(paths, cards, maps) -> list[str]:
    heat = {}
    for cid, rm in maps:
        fid = sm.map_figure_id(rm["hypothesis"])
        path = _shown(paths, fid)
        if path is not None:
            heat.setdefault(cid, []).append(_img(path, sm.map_caption(rm), f'class="mapthumb" id="thumb-{e(fid)}" '
                                                                           f'title="{e(rm["model"]["words"])}"'))
    out = ['<div class="cards">']
    for k in cards:
        holds = f'<span class="holds">where: {e(k["holds"])}</span>' if k["holds"] else ""
        subs = "".join(f'<li title="{e(x["why"])}">{e(x["id"])} {e(x["title"])}: '
                       f'<b class="{_cls(x["verdict"])}">{e(x["verdict"])}</b></li>' for x in k["subclaims"])
        subs = f'<ul class="subs">{subs}</ul>' if subs else ""
        nv = f'<span class="nv">non-voting: {e(k["non_voting"])}</span>' if k.get("non_voting") else ""
        out.append(f'<a class="card" href="#{e(k["id"])}" title="family-wise alpha {fmt_num(k["fwer"])}">'
                   f'<span class="cid">{e(k["id"])}</span> '
                   f'<span class="{_cls(k["headline"])}">{e(k["headline"])}</span>{subs}'
                   f'<span class="foot"><span class="counts">votes: {e(k["verdict"])} ({len(k["for"])} for, '
                   f'{len(k["against"])} against, {len(k["undecided"])} undecided)</span>{nv}{holds}</span>'
                   + "".join(heat.get(k["id"], [])) + '</a>')
    return out + ["</div>"]


def _forest(paths, left) -> list[str]:
    out = []
    forest = _shown(paths, FOREST_ID)
    if forest is not None:
        out.append(f'<figure id="forest">{_img(forest, sm.FOREST_CAPTION)}'
                   f"<figcaption>{e(sm.FOREST_CAPTION)}</figcaption></figure>")
    if left:
        out.append(f"<p>Not on the forest plot (no standardized effect): {e(', '.join(left))}.</p>")
    return out


def _figure_index(paths, fids) -> list[str]:
    links = [f'<a href="#{e(sm.figure_anchor(fid))}">{e(fid)}</a>' for fid in fids if _shown(paths, fid)]
    if not links:
        return []
    return [f'<details id="figure-index"><summary>Figure index ({len(links)})</summary><p>' + " ".join(links)
            + "</p></details>"]


# ---- the claims ----------------------------------------------------------------------------------

def _claims(paths, claims) -> list[str]:
    out = ["<h2>Claims</h2>", "<table><tr><th>claim</th><th>verdict</th><th>family-wise alpha</th>"
           "<th>voting hypotheses</th><th>hypotheses</th></tr>"]
    out += [f'<tr><td><a href="#{e(c["id"])}">{e(c["id"])}</a></td>'
            f'<td class="{_cls(c["verdict"])}">{e(c["verdict"])}</td><td>{fmt_num(c.get("fwer"))}</td>'
            f'<td>{e(", ".join(c.get("alpha_allocated") or []) or "-")}</td>'
            f'<td>{e(", ".join(c["hypotheses"]))}</td></tr>' for c in claims]
    return out + ["</table>"]


def _claim(paths, c, blocks) -> list[str]:
    beyond = "" if c.get("article", True) else " <em>(a check beyond the article)</em>"
    hw = (c.get("headline") or {}).get("word", c["verdict"])
    return [f'<h2 id="{e(c["id"])}">{e(c["id"])}</h2>', f"<p>{e(c.get('text', ''))}</p>",
            f"<p><em>Source:</em> {e(c.get('source', ''))}{beyond}</p>",
            (f'<p><strong>Headline: <span class="{_cls(hw)}">{e(hw)}</span></strong>. Voting verdict: '
             if c.get("headline") else "<p><strong>Overall verdict: ")
            + f'<span class="{_cls(c["verdict"])}">{e(c["verdict"])}</span>'
            + ("" if c.get("headline") else "</strong>") + f' ({e(c["detail"])})</p>'] + _lines(blocks, paths)


def _non_voting(paths, words) -> list[str]:
    return [f"<p>Non-voting evidence: {e(words)}.</p>"]


def _subclaims(paths, rows) -> list[str]:
    out = ["<table><tr><th>sub-claim</th><th>the article says</th><th>verdict</th><th>why</th><th>where</th></tr>"]
    out += [f'<tr><td>{e(x["id"])} {e(x["title"])}</td><td>{_statement_cell(x["words"])}</td>'
            f'<td class="{_cls(x["verdict"])}"><b>{e(x["verdict"])}</b></td><td>{_statement_cell(x["why"])}</td>'
            f'<td>{e(x["where"])}</td></tr>' for x in rows]
    out.append("</table>")
    amends = [(x["id"], a) for x in rows for a in x.get("amendments") or []]
    if amends:
        out.append("<ul>" + "".join(f"<li><em>amendment to sub-claim {e(i)}</em> ({e(str(a.get('date')))}): "
                                    f"{e(str(a.get('change')))} Reason: {e(str(a.get('reason')))}</li>"
                                    for i, a in amends) + "</ul>")
    return out


def _records(paths, title, rows) -> list[str]:
    out = [f"<h3>{e(title)}</h3><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in COLUMNS) + "</tr>"]
    for r in rows:      # the statement folds; the verdict is coloured
        out.append("<tr>" + "".join(f'<td class="{_cls(x)}">{e(x)}</td>' if i == 8 else
                                    f"<td>{_statement_cell(x)}</td>" if i == 1 else f"<td>{e(x)}</td>"
                                    for i, x in enumerate(table_row(r))) + "</tr>")
    return out + ["</table>"]


def _details(paths, recs) -> list[str]:
    return (["<ul>"] + [f"<li><strong>{e(r['id'])}</strong>: " + "; ".join(f"<em>{e(k)}:</em> {e(v)}"
                                                                         for k, v in details(r)) + "</li>"
                        for r in recs] + ["</ul>"])


def _missing(paths, m) -> list[str]:
    return [f"<p>{e(m['id'])}: no evidence (pytest outcome: {e(str(m.get('outcome', '?')))})</p>"]


def _not_run(paths, n) -> list[str]:
    return [f"<p>{e(n['id'])} ({e(n['title'])}): not run in this profile; runs in "
            f"{e(', '.join(n['profiles']))} (or selected by its id)</p>"]


def _map(paths, rm) -> list[str]:
    """A robustness map: small multiples, one heat strip per factor (each level's cells, coloured by how many
    hold), the model's heat map, its words, then every cell that ran."""
    out = [f'<h3 class="map">Where {e(rm["hypothesis"])} holds: {e(rm["summary"])} '
           f'(of {rm["grid_cells"]} in the survey grid)</h3>', f"<p>{e(rm['words'])}.</p>", '<div class="maps">']
    for f, levels in rm["factors"].items():
        rows = {row["level"]: row for row in rm["main_effects"].get(f, [])}
        out.append(f'<table class="heat"><caption>{e(f)}</caption><tr>')
        for v in levels:
            row = rows.get(v)
            if row is None:
                out.append(f'<td class="m-none" title="not run in this profile">{e(str(v))}<br>-</td>')
                continue
            share = row["holds"] / row["cells"]
            cls = "m-holds" if share == 1 else "m-fails" if share == 0 else "m-mixed"
            base = " (base)" if v == rm["base"].get(f) else ""
            out.append(f'<td class="{cls}" title="{row["holds"]} of {row["cells"]} cells hold">{e(str(v))}{base}<br>'
                       f'{fmt_num(row["median_effect"], 3)}<br>{row["holds"]}/{row["cells"]}</td>')
        out.append("</tr></table>")
    out.append("</div>")
    fid = sm.map_figure_id(rm["hypothesis"])
    path = _shown(paths, fid)
    if path is not None:
        out.append(f'<figure class="mapheat" id="{e(fid)}">{_img(path, sm.map_caption(rm))}'
                   f'<figcaption>{e(sm.map_caption(rm))}</figcaption></figure>')
    out += [f"<p>{e(line)}</p>" for line in model_lines(rm)]
    out.append("<table><tr><th>cell</th><th>effect [95% CI]</th><th>p</th><th>BH q</th><th>verdict</th>"
               "<th>map</th></tr>")
    for x in rm["cells"]:
        out.append(f'<tr class="m-{e(x["status"])}"><td>{e(cell_label(x))}</td><td>{fmt_num(x["effect"], 3)} '
                   f'{e(fmt_ci(x["ci"]))}</td><td>{fmt_num(x["p"], 3)}</td><td>{fmt_num(x["q_bh"], 3)}</td>'
                   f'<td class="{_cls(x["verdict"] or "")}">{e(str(x["verdict"]))}</td><td>{e(x["status"])}</td></tr>')
    return out + ["</table>"]


def _figures(paths, specs) -> list[str]:
    out, shown = [], set()
    for spec in specs:
        path = _shown(paths, spec["id"])
        if path is None or spec["id"] in shown:         # an element id is used once per section
            continue
        shown.add(spec["id"])
        caption = f"{spec['id']}: {spec.get('title') or spec['id']}"     # the alt text carries the caption
        out.append(f'<figure id="{e(sm.figure_anchor(spec["id"]))}">{_img(path, caption)}'
                   f"<figcaption>{e(caption)}</figcaption></figure>")
    return out


# ---- after the claims ----------------------------------------------------------------------------

def _knockouts(paths, ko) -> list[str]:
    out = ['<h2 id="knockouts">Knock-outs: does each vote die without its mechanism?</h2>', f"<p>{e(ko['rule'])}</p>",
           f"<p>{e(knockout_source(ko).replace('`', ''))}</p>",
           "<table><tr><th>vote</th><th>sub-claim</th><th>knock-out removes</th><th>vote</th>"
           "<th>knock-out effect [95% CI]</th><th>p</th><th>knock-out verdict</th><th>vote</th></tr>"]
    for x in ko["rows"]:
        d = died(x)
        cls = "v-reproduced" if d == "died" else "v-not-reproduced" if d == "SURVIVED" else "v-inconclusive"
        out.append(f"<tr><td>{e(x['key'])}</td><td>{e(x['subclaim'])}</td><td>{_statement_cell(x['removes'])}</td>"
                   f"<td>{e(str(x['vote_verdict'] or '-'))}</td><td>{fmt_num(x['knockout_effect'], 3)} "
                   f"{e(fmt_ci(x['knockout_ci'], 3))}</td><td>{fmt_num(x['knockout_p'], 3)}</td>"
                   f"<td>{e(str(x['knockout_verdict'] or '-'))}</td><td class=\"{cls}\"><b>{e(d)}</b></td></tr>")
    return out + ["</table>"]


def _multiplicity(paths, mult) -> list[str]:
    out = ["<h2>Suite-level multiplicity</h2>",
           f"<p>Adjusted p over the {len(mult['ids'])} {e(mult['scope'])} "
           "(Holm: family-wise; BH: false discovery rate).</p>",
           "<table><tr><th>hypothesis</th><th>p</th><th>Holm</th><th>BH</th><th>alpha</th></tr>"]
    out += [f"<tr><td>{e(hid)}</td><td>{fmt_num(mult['p'][i], 3)}</td>"
            f"<td>{fmt_num(mult['holm'][i], 3)}</td><td>{fmt_num(mult['bh'][i], 3)}</td>"
            f"<td>{fmt_num(mult['alpha'][i])}</td></tr>" for i, hid in enumerate(mult["ids"])]
    return out + ["</table>"]


def _controls(paths, ctl, nr) -> list[str]:
    out = ['<h2 id="controls">Controls</h2>',
           f"<p>{sum(c.get('outcome') != 'failed' for c in ctl)} of {len(ctl)} controls showed what they "
           "should. null: A/A on disjoint seeds (or a declared null against a fixed comparator); plumbing: "
           "identical runs (tests the plumbing, not error rates).</p>"]
    if nr.get("controls"):
        out.append(f"<p>{nr['reproduced']} of {nr['controls']} null controls reproduced; with no effect anywhere "
                   f"at least one would with probability about {fmt_num(nr.get('expected_any'), 3)}.</p>")
    out.append("<table><tr><th>hypothesis</th><th>control</th><th>kind</th><th>verdict</th><th>alpha</th>"
               "<th>p</th><th>outcome</th></tr>")
    out += [f"<tr><td>{e(c['id'])}</td><td>{e(c['control'])}</td><td>{e(str(c.get('kind', '')))}</td>"
            f"<td>{e(c['verdict'])}</td><td>{fmt_num(c.get('alpha'), 3)}</td><td>{fmt_num(c.get('p'), 3)}</td>"
            f"<td>{e(str(c.get('outcome')))}</td></tr>" for c in ctl]
    return out + ["</table>"]


_BLOCKS = {"head": _head, "screen": _screen, "banner": _banner, "cards": _cards, "forest": _forest,
           "figure_index": _figure_index, "claims": _claims, "claim": _claim, "non_voting": _non_voting,
           "subclaims": _subclaims, "records": _records, "details": _details, "missing": _missing,
           "not_run": _not_run, "map": _map, "figures": _figures, "knockouts": _knockouts,
           "multiplicity": _multiplicity, "controls": _controls}


# the page's style sheet: verdict colours (v-*), map cells (m-*), the first screen's cards
_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.v-supported,.v-reproduced{color:#1a7f37}
.v-contradicted,.v-not-reproduced{color:#b42318}.v-mixed,.v-inconclusive{color:#9a6700}
figure{display:inline-block;margin:.5em}img{max-width:100%}figcaption{font-size:.85em;color:#555}
.maps{display:flex;flex-wrap:wrap;gap:1em}table.heat td{text-align:center;min-width:4.5em}
.m-holds{background:#d9f2e0}.m-fails{background:#f8d7d3}.m-mixed,.m-unclear{background:#fbeecb}.m-underpowered{background:#eee}
.m-none{background:#eee;color:#888}caption{font-weight:600;text-align:left}
.mapthumb{display:block;max-width:100%;max-height:105px;margin-top:.2em}.mapheat{margin:.4em 0;max-width:640px}.mapheat img{max-width:100%}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(245px,1fr));gap:.4em;margin:.4em 0;
align-items:start}
.card{display:block;border:1px solid #ccc;border-radius:6px;padding:.35em .5em;text-decoration:none;color:#222;
font-size:.78em;line-height:1.25}.card .foot{display:block;color:#555;font-size:.92em;margin-top:.15em}
#summary h2{margin:.3em 0}.card .cid{font-weight:700;font-size:1.1em}.card span{display:block}
.card span.cid,.card span.cid+span{display:inline}#forest{display:block;margin:.5em 0}
details summary{cursor:pointer}td details{max-width:28em}
.card ul.subs{margin:.1em 0;padding-left:1em}.card ul.subs li{margin:0}.round{background:#e8f4ea;padding:.3em .6em}
.round.exploratory,.round.secondary{background:#fff4d6}.pilot{background:#fff4d6;
border:1px solid #e3c26b;border-radius:6px;padding:.3em .6em;font-size:.85em;margin:.3em 0}
.v-qualified{color:#9a6700}
.v-not-supported{color:#b42318}.v-true-by-construction,.v-not-tested{color:#555}"""
