"""Gold per task: ground truth where there is some, else a majority of the voters; ties listed.

Input
    The usable annotations of one task (:class:`~.results._Parsed`), already reduced to the
    ground-truth ones when any annotation is marked ``ground_truth``.
Output
    ``(gold entities, gold stances, unresolved items)``: an entity ``(start, end, label)`` is gold
    when more than n/2 of the n voters marked it, unresolved at exactly n/2, dropped below; a
    stance target is decided when more than n/2 voters gave it a stance and then takes the label
    with the most votes; a tie for first place (or exactly n/2 voters) is unresolved.
Invariants
    Nothing is guessed: every tie is listed for an adjudicator. Gold items come sorted.
"""

from __future__ import annotations

from typing import Any, Sequence

from .results import GivenTarget, _Parsed


def vote(voters: Sequence[_Parsed], text: str):
    """``(gold entity keys, {target: label}, unresolved items)`` of one task's voters (rules: module docstring)."""
    n = len(voters)
    unresolved: list[dict[str, Any]] = []
    if n == 1:  # one voter: everything it marked has 1 > 1/2 votes
        (p,) = voters
        return sorted(p.entities), {tgt: p.stances[tgt] for tgt in sorted(p.stances)}, unresolved
    ent_votes: dict[tuple[int, int, str], int] = {}
    get = ent_votes.get
    for p in voters:
        for key in p.entities:
            ent_votes[key] = get(key, 0) + 1
    gold_ents = []
    for key in sorted(ent_votes):
        k = ent_votes[key]
        if 2 * k > n:
            gold_ents.append(key)
        elif 2 * k == n:
            s, e, lab = key
            unresolved.append(
                {"kind": "entity", "start": s, "end": e, "text": text[s:e], "label": lab, "votes": k, "voters": n}
            )
    labels: dict[tuple[int, int], dict[str, int]] = {}  # target -> label -> votes
    for p in voters:
        for tgt, lab in p.stances.items():
            c = labels.get(tgt)
            if c is None:
                labels[tgt] = {lab: 1}
            else:
                c[lab] = c.get(lab, 0) + 1
    gold_st: dict[tuple[int, int], str] = {}
    for tgt in sorted(labels):
        c = labels[tgt]
        k = sum(c.values())  # voters who gave this target a stance
        if 2 * k < n:
            continue
        if len(c) == 1:
            (top,) = c
            tie = False
        else:
            ranked = sorted(c.values(), reverse=True)
            tie = ranked[0] == ranked[1]
            top = max(c, key=c.__getitem__)
        if 2 * k == n or tie:
            where = {"target": tgt.text} if isinstance(tgt, GivenTarget) else {
                "start": tgt[0], "end": tgt[1], "text": text[tgt[0]:tgt[1]]}
            unresolved.append({"kind": "stance", **where, "votes": dict(sorted(c.items())), "voters": n})
            continue
        gold_st[tgt] = top
    return gold_ents, gold_st, unresolved

