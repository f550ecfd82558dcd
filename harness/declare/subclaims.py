"""Sub-claims: an article claim split into the statements it makes, each with a verdict word that says what
was found, and the claim's headline built from them.

A SubClaim is declared before anything runs (claims/subclaims.py for bnclaims' own claims) and names the
hypotheses that bear on its statement, by the part they play:

    evidence      the statement as the article words it (the old primaries, voting or not)
    construct     construct-valid measures of the mechanism the statement names (they can say no where the
                  evidence has a simpler explanation); when they point the other way while the evidence holds,
                  the verdict is "supported as measured, mechanism not supported" and names `simpler`
    identity      identity checks that make the statement true by construction (BN's algebra)
    definitions   (label, ids) pairs: the statement under different definitions (Ioffe's ICS, Santurkar's)

Verdict words (VERDICT_WORDS), in the order the rule tries them:

    not tested                 none of its hypotheses produced evidence in this run
    true by construction       its identity checks hold and it names no statistical evidence that is decisive
    depends on the definition  holds under one definition, reversed under another
    supported as measured, mechanism not supported
                               the evidence holds, a construct-valid check points the other way
    supported as measured, mechanism not tested
                               the evidence holds, its construct-valid checks did not run or were undecided
    holds in k of N settings   the evidence holds and its robustness map shows cells where it does not (N: the
                               cells whose n can reach the threshold)
    supported                  evidence for, none against, construct-valid checks (if declared) for
                               An effect shown to lie inside its smallest effect of interest counts for nothing.
    not supported              evidence against (or, with no decisive evidence, the construct-valid checks against)
    mixed                      decisive evidence both ways (or the construct-valid measures split)
    inconclusive               nothing decisive

Where a sub-claim's checks include confirmatory votes (round 2: claims/round2.py), the votes cap the reading of all
its checks (with_votes): no "supported" word without a vote for it, an undecided vote reads "inconclusive", a vote
against turns a supported reading into "not supported" (or "mechanism not supported" for a construct-valid vote).

A claim's headline is "supported" only when every sub-claim (true-by-construction ones aside) is supported and
no construct-valid check of the claim points significantly the other way ("supported where tested (k not
tested)" when some did not run in this profile); "not supported" when none has support and one is not
supported; "inconclusive" when none is decisive; otherwise "partly supported". The voting verdict (harness.stats.verdict.claim_verdict) stays beside it. No torch, no scipy.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bnclaims.harness.stats.verdict import supports_claim, votes

KINDS = ("statement", "mechanism", "side")
VERDICT_WORDS = ("supported", "supported as measured, mechanism not supported",
                 "supported as measured, mechanism not tested", "true by construction",
                 "depends on the definition", "holds in k of N settings", "not supported", "mixed",
                 "inconclusive", "not tested")
HEADLINES = ("supported", "supported where tested (k not tested)", "partly supported", "not supported",
             "inconclusive", "true by construction", "not tested", "smoke run: no verdict")


@dataclass(frozen=True)
class SubClaim:
    id: str                          # "C4.1"
    claim: str                       # "C4"
    title: str                       # a few words
    words: str                       # the article's statement, in our words
    where: str                       # where the article (or its sources) make it: statement number, paper, section
    evidence: tuple = ()             # hypothesis ids: the statement as worded
    construct: tuple = ()            # hypothesis ids: construct-valid measures of its mechanism
    identity: tuple = ()             # identity-check ids: true by construction
    definitions: tuple = ()          # ((label, (ids...)), ...)
    simpler: str = ""                # the simpler explanation, named when the mechanism is not supported
    kind: str = "statement"          # see KINDS
    notes: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.id.startswith(self.claim + "."):
            raise ValueError(f"{self.id}: a sub-claim id starts with its claim's id ({self.claim}.)")
        if not (self.evidence or self.construct or self.identity or self.definitions):
            raise ValueError(f"{self.id}: a sub-claim names at least one hypothesis")
        for label, ids in self.definitions:
            if not isinstance(label, str) or not ids:
                raise ValueError(f"{self.id}: definitions are (label, (ids, ...)) pairs")

    def ids(self) -> list[str]:
        return _named_ids(self.evidence, self.construct, self.identity, self.definitions)

    def declaration(self) -> dict:
        return {"id": self.id, "claim": self.claim, "title": self.title, "words": self.words, "where": self.where,
                "evidence": list(self.evidence), "construct": list(self.construct), "identity": list(self.identity),
                "definitions": [[label, list(ids)] for label, ids in self.definitions], "simpler": self.simpler,
                "kind": self.kind, "notes": self.notes}


def negligible(rec: dict) -> bool:
    """Significant, but shown to lie inside the declared smallest effect of interest (TOST within +-sesoi)."""
    st, h = rec.get("stats") or {}, rec["hypothesis"]
    p = st.get("p_tost_sesoi")
    return (rec.get("verdict") == "reproduced" and h.get("sesoi") is not None and isinstance(p, (int, float))
            and p < (h.get("alpha") or 0.01))


def _sign(rec: dict):
    """+1 for the article claim, -1 against, 0 undecided (harness.stats.verdict.supports_claim). An effect shown to be
    smaller than the smallest effect of interest is not counted for the statement."""
    s = supports_claim(rec["hypothesis"].get("stance", "supports"), rec.get("verdict", "inconclusive"))
    if s is True and negligible(rec):
        return 0
    return 0 if s is None else (1 if s else -1)


def _split(ids, recs) -> tuple[list, list, list]:
    """(for, against, undecided) among the ids that ran; retired checks are never evidence."""
    pro, con, und = [], [], []
    for i in ids:
        if i in recs and not recs[i]["hypothesis"].get("retired"):
            (pro if _sign(recs[i]) > 0 else con if _sign(recs[i]) < 0 else und).append(i)
    return pro, con, und


def _map_for(ids, maps) -> dict | None:
    return next((m for m in maps if m.get("hypothesis") in ids), None)


SUPPORTED_FAMILY = ("supported", "supported as measured, mechanism not tested")


def subclaim_verdict(decl: dict, recs: dict, maps=(), profile: str = "ci") -> dict:
    """decl: SubClaim.declaration(); recs: hypothesis id -> evidence record (this run); maps: the claim's built
    robustness maps. Returns the declaration with "verdict", "why", per-part for/against lists and "vote" (the
    confirmatory votes among its checks: the reading of every check, then capped by the votes, with_votes)."""
    return with_votes(_reading(decl, recs, maps, profile), recs, profile)


def with_votes(out: dict, recs: dict, profile: str = "ci") -> dict:
    """The confirmatory votes decide what the secondary checks may say. A sub-claim whose votes ran:
    - votes for the article, or none decisive against: its reading stands where the votes agree with it;
      an "inconclusive" or "not supported" reading becomes "supported" / "mixed";
    - a vote inconclusive (none against): a reading in the supported family, or "holds in k of N settings",
      becomes "inconclusive": no confirmatory test decided it (the secondary reading stays in why);
    - a vote against: "supported" or "supported as measured, mechanism not tested" (or "holds in ...") becomes
      "supported as measured, mechanism not supported" when the votes are construct-valid measures, else "not
      supported".
    out["vote"] = {"ids", "for", "against", "undecided", "underpowered", "reading"} (reading: the word before)."""
    # a sub-claim's own votes: those of its claim (a check of another claim named as context does not vote here),
    # and none for a side statement
    voting = [i for i in out.get("ran", []) if i in recs and votes(recs[i]["hypothesis"])
              and recs[i]["hypothesis"].get("claim", out.get("claim")) == out.get("claim") and out.get("kind") != "side"]
    if not voting or profile == "smoke" or out.get("verdict") in ("not tested", "true by construction"):
        return out
    pro, con, und = _split(voting, recs)
    under = [i for i in und if (recs[i]["hypothesis"].get("planned_power") is not None
                                and recs[i]["hypothesis"]["planned_power"] < 0.8)]
    word = out["verdict"]
    out["vote"] = {"ids": voting, "for": pro, "against": con, "undecided": und, "underpowered": under,
                   "reading": word}
    supported_like = word in SUPPORTED_FAMILY or word.startswith("holds in")
    construct = set(out.get("construct", ()))
    if con:
        if supported_like:
            new = ("supported as measured, mechanism not supported" if set(con) <= construct and
                   out.get("evidence_for") else "not supported")
            out["why"] = f"confirmatory vote against: {', '.join(con)}; secondary reading: {word} ({out['why']})"
            out["verdict"] = new
        else:
            out["why"] = f"confirmatory vote against: {', '.join(con)}; {out['why']}"
    elif und:
        if supported_like or word == "inconclusive":
            tail = f" (registered as underpowered: {', '.join(under)})" if under else ""
            out["why"] = (f"confirmatory vote undecided: {', '.join(und)}{tail}; secondary reading: {word} "
                          f"({out['why']})")
            out["verdict"] = "inconclusive"
        else:
            out["why"] = f"confirmatory vote undecided: {', '.join(und)}; {out['why']}"
    else:
        if word == "inconclusive":
            out["verdict"] = "supported"
        elif word == "not supported":
            out["verdict"] = "mixed"
        out["why"] = f"confirmatory vote for: {', '.join(pro)}; {out['why']}"
    return out


def _reading(decl: dict, recs: dict, maps=(), profile: str = "ci") -> dict:
    """The verdict word from every check of the sub-claim (evidence, construct-valid measures, identities,
    definitions, its map), before the votes (with_votes)."""
    out = dict(decl)
    ev_p, ev_c, ev_u = _split(decl["evidence"], recs)
    co_p, co_c, co_u = _split(decl["construct"], recs)
    ident = [i for i in decl["identity"] if i in recs]
    ident_ok = [i for i in ident if recs[i].get("verdict") == "reproduced"]
    every = _ids(decl)
    present = [i for i in every if i in recs]
    out.update({"evidence_for": ev_p, "evidence_against": ev_c, "evidence_undecided": ev_u,
                "construct_for": co_p, "construct_against": co_c, "construct_undecided": co_u,
                "identity_holds": ident_ok, "ran": present,
                "not_run": [i for i in every if i not in recs]})
    by_def, by_construction = [], []
    for label, ids in decl["definitions"]:      # a reading fixed by construction (an identity) decides nothing
        stat = [i for i in ids if i not in decl["identity"]]
        if not stat:
            by_construction.append(label)
            continue
        p, c, _ = _split(stat, recs)
        by_def.append((label, p, c))
    held = [label for label, p, c in by_def if p and not c]
    reversed_ = [label for label, p, c in by_def if c and not p]

    def done(verdict: str, why: str) -> dict:
        out["verdict"], out["why"] = verdict, why
        return out

    stat_ids = [i for i in every if i not in decl["identity"]]
    if profile == "smoke":
        return done("not tested", "smoke run: budgets too small for a verdict")
    if not present or (stat_ids and not any(i in recs for i in stat_ids)):
        return done("not tested", "none of its checks ran in this profile: " + ", ".join(out["not_run"]))
    if not stat_ids:
        if len(ident_ok) == len(ident):
            return done("true by construction", f"identity checks hold ({', '.join(ident_ok)}): the statement "
                                                "follows from BN's algebra, not from training")
        return done("not supported", "identity checks fail: " + ", ".join(i for i in ident if i not in ident_ok))
    fixed = (f"; by construction at {', '.join(by_construction)} ({', '.join(ident)})" if by_construction and ident
             else "")
    if held and reversed_:
        return done("depends on the definition", f"holds under {', '.join(held)}; reversed under "
                                                 f"{', '.join(reversed_)}{fixed}")
    if held and not reversed_ and not (ev_p or ev_c):
        ev_p = [i for label, p, _ in by_def for i in p]
    if reversed_ and not held and not (ev_p or ev_c):
        ev_c = [i for label, _, c in by_def for i in c]
    small = [i for i in ev_u + co_u if i in recs and negligible(recs[i])]
    small_note = f"; significant but inside the smallest effect of interest: {', '.join(small)}" if small else ""
    if ev_p and not ev_c:
        if co_c and co_p:
            return done("mixed", f"as measured: {', '.join(ev_p)}; construct-valid measures split, for: "
                                 f"{', '.join(co_p)}; against: {', '.join(co_c)}" + small_note)
        if co_c:
            why = f"as measured: {', '.join(ev_p)}; construct-valid measures against: {', '.join(co_c)}"
            if ev_u or co_u:
                why += f"; undecided: {', '.join(ev_u + co_u)}"
            if decl.get("simpler"):
                why += f"; simpler explanation: {decl['simpler']}"
            return done("supported as measured, mechanism not supported", why + small_note)
        if decl["construct"] and not co_p:
            missing = [i for i in decl["construct"] if i not in recs]
            why = (f"as measured: {', '.join(ev_p)}" + (f" (undecided: {', '.join(ev_u)})" if ev_u else "")
                   + "; the construct-valid measures "
                   + (f"did not run in this profile ({', '.join(missing)})" if missing else "")
                   + ("; " if missing and co_u else "")
                   + (f"are undecided ({', '.join(co_u)})" if co_u else ""))
            return done("supported as measured, mechanism not tested", why + small_note)
        m = _map_for(ev_p, maps)
        cells = [c for c in (m or {}).get("cells", []) if c.get("status") != "underpowered"]
        k = sum(c.get("status") == "holds" for c in cells)
        if len(cells) > 1 and k < len(cells):
            return done(f"holds in {k} of {len(cells)} settings", f"{', '.join(ev_p)}; {m.get('words', '')}")
        why = f"for: {', '.join(ev_p)}" + (f"; construct-valid for: {', '.join(co_p)}" if co_p else "")
        if ev_u or co_u:
            why += f"; undecided: {', '.join(ev_u + co_u)}"
        return done("supported", why + small_note)
    if ev_c and not ev_p:
        return done("not supported", f"against: {', '.join(ev_c)}"
                    + (f"; construct-valid for: {', '.join(co_p)}" if co_p else "") + fixed + small_note)
    if ev_p and ev_c:
        return done("mixed", f"for: {', '.join(ev_p)}; against: {', '.join(ev_c)}"
                    + (f"; construct-valid for: {', '.join(co_p)}" if co_p else "")
                    + (f"; construct-valid against: {', '.join(co_c)}" if co_c else ""))
    if co_p and not co_c:
        return done("supported", f"construct-valid measures for: {', '.join(co_p)} (the worded checks are undecided)")
    if co_c and not co_p:
        return done("not supported", f"construct-valid measures against: {', '.join(co_c)} (the worded checks are "
                                     "undecided)")
    if co_p and co_c:
        return done("mixed", f"construct-valid measures for: {', '.join(co_p)}; against: {', '.join(co_c)}")
    return done("inconclusive", "no check of it was decisive: " + ", ".join(present) + fixed + small_note)


def _ids(decl: dict) -> list[str]:
    """Every hypothesis id a sub-claim declaration names (SubClaim.ids of its declaration())."""
    return _named_ids(decl["evidence"], decl["construct"], decl["identity"], decl["definitions"])


def _named_ids(evidence, construct, identity, definitions) -> list[str]:
    """The ids in declaration order, each once: evidence, construct-valid, identity, then the definitions' ids."""
    out = [*evidence, *construct, *identity]
    for _, ids in definitions:
        out += list(ids)
    return list(dict.fromkeys(out))


def non_voting_direction(records: list[dict], side_only=()) -> dict:
    """Which way the claim's non-voting evidence (exploratory or secondary, role evidence, not retired) points.
    side_only: ids that bear only on the article's side statements, whose stance refers to that statement's own
    wording (left out here)."""
    pro, con, und = [], [], []
    for r in records:
        h = r["hypothesis"]
        if votes(h) or h.get("role", "evidence") != "evidence" or h.get("retired") or r["id"] in side_only:
            continue
        s = _sign(r)
        (pro if s > 0 else con if s < 0 else und).append(r["id"])
    return {"for": pro, "against": con, "undecided": und,
            "words": f"{len(con)} against, {len(pro)} for, {len(und)} undecided"}


def side_only_ids(decls: list[dict]) -> set:
    """Ids named only by the claim's side-statement sub-claims."""
    side = {i for d in decls if d["kind"] == "side" for i in _ids(d)}
    main = {i for d in decls if d["kind"] != "side" for i in _ids(d)}
    return side - main


def headline(rows: list[dict], profile: str = "ci") -> dict:
    """The claim's headline from its sub-claims' verdicts (rows: subclaim_verdict outputs)."""
    if profile == "smoke":
        return {"word": "smoke run: no verdict", "text": "smoke run: no verdict"}
    tested = [r for r in rows if r["verdict"] != "not tested"]
    weighed = [r for r in tested if r["verdict"] != "true by construction"]
    listing = "; ".join(f"{r['id']} {r['title']}: {r['verdict']}" for r in rows)
    construct_against = sorted({i for r in rows for i in r.get("construct_against", [])})
    positive = [r for r in weighed if r["verdict"] == "supported" or r["verdict"].startswith(("holds in",
                "supported as measured", "depends on", "mixed"))]
    untested = [r["id"] for r in rows if r["verdict"] == "not tested"]
    if not tested:
        word = "not tested"
    elif not weighed:
        word = "true by construction"
    elif all(r["verdict"] == "supported" for r in weighed) and not construct_against:
        word = "supported" if not untested else f"supported where tested ({len(untested)} not tested)"
    elif not positive:
        word = "not supported" if any(r["verdict"] == "not supported" for r in weighed) else "inconclusive"
    else:
        word = "partly supported"
    return {"word": word, "text": listing, "construct_against": construct_against, "untested": untested}


PILOT_BASE = 0
PILOT_NOTE = ("Seed base 0 is the pilot: the sub-claims and their new construct-valid measures were designed on "
              "it, so its verdicts are exploratory. Confirmatory votes belong to a round locked before it runs on "
              "seeds nobody has seen.")
