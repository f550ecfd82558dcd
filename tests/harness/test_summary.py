"""The report's one-screen summary (harness/report/summary.py) and the fixed style of each arm across figures."""
from __future__ import annotations

import json

from bnclaims.harness.report import summary as sm
from plugin_fakes import run

pytest_plugins = ["pytester"]


def _axes():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    return Figure().subplots()


def test_an_arm_keeps_its_colour_and_marker_whatever_its_place_in_a_figure():
    from bnclaims.harness.report.figures import _draw
    colours = []
    for order in (("bn", "none", "gn"), ("gn", "bn", "none"), ("none", "bn")):
        ax = _axes()
        _draw(ax, {"series": [{"label": a, "x": [0, 1, 2], "y": [1, 2, 3]} for a in order]})
        colours.append({ln.get_label(): (ln.get_color(), ln.get_marker()) for ln in ax.lines})
    assert colours[0]["bn"] == colours[1]["bn"] == colours[2]["bn"] == sm.arm_style("bn")
    assert colours[0]["none"] == colours[2]["none"] != colours[0]["bn"]
    assert sm.arm_style("some other label") == sm.arm_style("Some Other Label ")     # derived from the name


def test_forest_rows_point_the_way_the_hypothesis_states():
    def rec(hid, direction, effect, d, ci):
        return {"id": hid, "claim": {"id": "C1"}, "verdict": "reproduced",
                "hypothesis": {"direction": direction, "role": "evidence", "title": hid},
                "stats": {"effect": effect, "d_z": d, "ci": ci}}
    rows, left = sm.forest_rows({"hypotheses": [
        rec("C1.a", "less", -0.5, -2.0, [-0.75, -0.25]), rec("C1.b", "greater", 0.5, 2.0, [0.25, 0.75]),
        rec("C1.c", "less", None, None, None), rec("C1.a@lr=x10", "less", -0.5, -2.0, [-0.75, -0.25])]})
    assert [r["id"] for r in rows] == ["C1.a", "C1.b"] and left == ["C1.c"]       # map cells are not plotted
    for r in rows:
        assert r["d"] == 2.0 and (r["lo"], r["hi"]) == (1.0, 3.0)


def test_the_summary_opens_both_reports(fake):
    run(fake, "--claims-report", "rep")
    md = (fake.path / "rep" / "report.md").read_text()
    page = (fake.path / "rep" / "report.html").read_text()
    assert md.index("## At a glance") < md.index("## Claims") and "figures/summary-forest.png" in md
    assert "| [C8](#c8) | **mixed** | - | mixed: 1 for, 1 against, 1 undecided |" in md    # no sub-claims: the vote
    assert page.index('id="summary"') < page.index('id="forest"') < page.index("<h2>Claims</h2>")
    assert 'href="#fig-c8a_lines"' in page and 'id="fig-c8a_lines"' in page
    j = json.loads((fake.path / "rep" / "report.json").read_text())
    assert all(f["id"] for r in j["hypotheses"] for f in r.get("figures", []))


def test_axis_labels_carry_units():
    assert sm.with_unit("train loss (median, 15-85%)") == "train loss (median, 15-85%) [nats]"
    assert sm.with_unit("test accuracy") == "test accuracy [fraction]" and sm.with_unit("step") == "step [steps]"
    assert sm.with_unit("cos(G, G')") == "cos(G, G')" and sm.with_unit("loss [nats]") == "loss [nats]"
