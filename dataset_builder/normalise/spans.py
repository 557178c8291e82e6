"""The offset and span rules: from a result's ``value`` to checked code point offsets.

Input
    A ``labels`` result's ``value`` (``start``, ``end``, ``text``) and the task text
    (:class:`_TextIndex`: its length and, only when characters outside the BMP occur, the map
    between UTF-16 units and code points).
Output
    ``(start, end)`` in code points, converted, re-aligned and trimmed, or the reason the span is
    rejected (a string); every decision is counted in the run's :class:`~.report.Counts`
    (``conventions``, ``fixes``, ``notes``) under the names of the package docstring's rules.
Invariants
    The returned offsets lie inside the text and ``text[start:end]`` has no edge whitespace.
    There is one path: :meth:`SpanRules.span` answers the common case (both conventions agree,
    ``value.text`` is the slice) first, exactly as its general steps would.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NEAR = 32  # code points either side of the given start in which a re-alignment still counts as "near"
OFFSET_MODES = ("auto", "codepoints", "utf16")


class _TextIndex:
    """The task text with what span checks need: length, UTF-16 map (only when non-BMP chars occur)."""

    __slots__ = ("text", "n", "astral_cp", "astral_u16", "u16_len", "bmp_end")

    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        cps = [] if text.isascii() else [m.start() for m in _ASTRAL.finditer(text)]
        self.astral_cp = cps  # code point index of each non-BMP char
        self.astral_u16 = [cp + i for i, cp in enumerate(cps)]  # its UTF-16 index
        self.u16_len = self.n + len(cps)
        # offsets up to here mean the same in code points and UTF-16 (no non-BMP char before)
        self.bmp_end = cps[0] if cps else self.n

    def astral_before(self, cp_end: int) -> bool:
        """True when a non-BMP char lies in ``text[:cp_end]`` (so code points and UTF-16 differ there)."""
        return bool(self.astral_cp) and self.astral_cp[0] < cp_end

    def u16_to_cp(self, u: int) -> int | None:
        """Code point index of UTF-16 index ``u``; None if ``u`` falls inside a surrogate pair or past the end."""
        if u > self.u16_len:
            return None
        k = bisect.bisect_left(self.astral_u16, u)
        if k > 0 and self.astral_u16[k - 1] + 1 == u:
            return None  # between the high and the low surrogate
        return u - k


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _matches(slice_: str, vt: str) -> int:
    """0: no match; 1: exact; 2: equal after collapsing whitespace runs."""
    if slice_ == vt:
        return 1
    if _collapse(slice_) == _collapse(vt) and _collapse(vt):
        return 2
    return 0


def _find_all(text: str, vt: str) -> list[tuple[int, int]]:
    tokens = vt.split()
    if not tokens:
        return []
    pattern = re.compile(r"\s+".join(re.escape(t) for t in tokens))
    out = []
    pos = 0
    while True:
        m = pattern.search(text, pos)
        if m is None:
            return out
        out.append((m.start(), m.end()))
        pos = m.start() + 1


def _bad_offsets(start: Any, end: Any) -> str | None:
    """Why ``value.start``/``value.end`` cannot be offsets at all (the reason), or None."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return "bad_offsets"
    if start < 0 or end < 0:
        return "negative_offset"
    if end <= start:
        return "end_not_after_start"
    return None


def _readings(start: int, end: int, ti: _TextIndex) -> tuple[bool, int | None, int | None, bool]:
    """``(code point reading inside the text, UTF-16 reading's start and end in code points, it inside the text)``."""
    us, ue = ti.u16_to_cp(start), ti.u16_to_cp(end)
    return end <= ti.n, us, ue, us is not None and ue is not None and ue > us


def _fit(start: int, end: int, us: Any, ue: Any, cp_ok: bool, u_ok: bool, vt: str, ti: _TextIndex) -> str | None:
    """Which reading's slice matches ``value.text``: ``"codepoints"``, ``"utf16"``, ``"both"`` or None.

    An exact match decides before a whitespace-collapsed one (a collapsed match can hide a shift);
    where both readings give the same offsets, a match is ``"both"`` (it proves neither).
    """
    cp_slice = ti.text[start:end] if cp_ok else None
    same = (us, ue) == (start, end)
    u_slice = ti.text[us:ue] if u_ok and not same else None
    for exact in (True, False):
        m_cp = cp_slice is not None and (cp_slice == vt if exact else _matches(cp_slice, vt) == 2)
        m_u = u_slice is not None and (u_slice == vt if exact else _matches(u_slice, vt) == 2)
        if m_cp:
            return "both" if m_u or same else "codepoints"
        if m_u:
            return "utf16"
    return None



# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


class SpanRules:
    """The span rules of one run, in one offsets mode, counting into ``counts``.

    ``entity_from_name`` names the entity control, whose spans in one annotation are evidence of
    that annotation's offsets convention (see :meth:`annotation`).
    """

    def __init__(self, offsets: str, counts: Any, entity_from_name: str | None = None) -> None:
        self.offsets = offsets
        self.counts = counts
        self._conventions = counts.conventions
        self.entity_from_name = entity_from_name
        # the results of the annotation being read (set by its reader) and its convention, decided
        # from them only when a span without evidence of its own needs it (see _auto)
        self.siblings: list = []
        self._convention_of: Any = None
        self._convention: str | None = None

    def span(self, start: Any, end: Any, vt: Any, ti: _TextIndex) -> tuple[int, int] | str:
        """Checked, converted, re-aligned and trimmed code point offsets of ``value.start``, ``value.end`` and
        ``value.text`` (None where missing), or a rejection reason."""
        # The common case, as the steps below decide it: int offsets inside the text with no character
        # outside the BMP before the end (both conventions agree), value.text the slice, nothing to trim.
        if (
            type(start) is int and type(end) is int and 0 <= start < end <= ti.bmp_end and type(vt) is str
            and ti.text[start:end] == vt and not vt[0].isspace() and not vt[-1].isspace()
        ):
            self._conventions["identical"] += 1
            return (start, end)
        bad = _bad_offsets(start, end)
        if bad:
            return bad
        if not isinstance(vt, str):
            if vt is not None:
                self.counts.notes["value_text_not_string"] += 1
            vt = None
        mode = self.offsets
        if mode == "utf16":
            if end > ti.u16_len:
                return "past_end"
            s, e = ti.u16_to_cp(start), ti.u16_to_cp(end)
            if s is None or e is None:
                return "inside_surrogate_pair"
            self.counts.conventions["utf16" if ti.astral_before(e) else "identical"] += 1
            return self._check_text(s, e, vt, ti)
        if mode == "codepoints" or not ti.astral_cp or (end <= ti.n and not ti.astral_before(end)):
            # no non-BMP char before the end: both readings give the same code points
            if end > ti.n:
                return "past_end"
            self.counts.conventions["codepoints" if ti.astral_before(end) else "identical"] += 1
            return self._check_text(start, end, vt, ti)
        return self._auto(start, end, vt, ti)

    def _auto(self, start: int, end: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        cp_ok, us, ue, u_ok = _readings(start, end, ti)
        if not cp_ok and not u_ok:
            return "past_end"
        fit = _fit(start, end, us, ue, cp_ok, u_ok, vt, ti) if vt is not None else None
        conventions = self.counts.conventions
        if fit == "codepoints":
            conventions["codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if fit == "utf16":
            conventions["utf16"] += 1
            return self._check_text(us, ue, vt, ti)
        # no evidence of its own: the span follows its annotation's convention, when a sibling proves one
        convention = self.annotation(ti)
        if convention == "utf16" and u_ok:
            conventions["followed_annotation_utf16"] += 1
            return self._check_text(us, ue, vt, ti)
        if convention == "codepoints" and cp_ok:
            conventions["followed_annotation_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if fit == "both":
            # both readings fit when the same text recurs; code points are then preferred (counted)
            conventions["both_fit_chose_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        if cp_ok:
            conventions["assumed_codepoints" if vt is None else "unconfirmed_codepoints"] += 1
            return self._check_text(start, end, vt, ti)
        # only the UTF-16 reading fits the text
        conventions["utf16_only_fit" if vt is None else "unconfirmed_utf16"] += 1
        return self._check_text(us, ue, vt, ti)

    def annotation(self, ti: _TextIndex) -> str | None:
        """The offsets convention the spans of the annotation being read prove, or None.

        A span (a result of the entity control in :attr:`siblings`) is evidence when its
        ``value.text`` matches the slice under exactly one reading; the annotation has a convention
        when its evidence all points one way. Decided once per annotation, and only when a span
        without evidence of its own asks (texts with characters outside the BMP, ``auto`` mode).
        """
        siblings = self.siblings
        if self._convention_of is siblings:
            return self._convention
        found = set()
        for r in siblings:
            value = r.get("value") if isinstance(r, dict) and r.get("from_name") == self.entity_from_name else None
            if not isinstance(value, dict):
                continue
            start, end, vt = value.get("start"), value.get("end"), value.get("text")
            if not isinstance(vt, str) or _bad_offsets(start, end):
                continue
            cp_ok, us, ue, u_ok = _readings(start, end, ti)
            fit = _fit(start, end, us, ue, cp_ok, u_ok, vt, ti)
            if fit in ("codepoints", "utf16"):
                found.add(fit)
        self._convention_of = siblings
        self._convention = found.pop() if len(found) == 1 else None
        return self._convention

    def _check_text(self, s: int, e: int, vt: str | None, ti: _TextIndex) -> tuple[int, int] | str:
        text = ti.text
        if vt and text[s:e] == vt and not vt[0].isspace() and not vt[-1].isspace():
            return (s, e)  # value.text is the slice and has nothing to trim: what the steps below give
        if vt is None:
            self.counts.notes["no_value_text"] += 1
        else:
            m = _matches(text[s:e], vt)
            if m == 2:
                self.counts.fixes["text_whitespace_differs"] += 1
            elif m == 0:
                found = _find_all(text, vt)
                if len(found) == 1:
                    s, e = found[0]
                    self.counts.fixes["realigned"] += 1
                else:
                    near = [f for f in found if abs(f[0] - s) <= max(_NEAR, len(vt))]
                    if len(near) == 1:
                        s, e = near[0]
                        self.counts.fixes["realigned_nearby"] += 1
                    else:
                        return "text_ambiguous" if found else "text_not_found"
        sl = text[s:e]
        stripped = sl.strip()
        if not stripped:
            return "whitespace_only"
        if len(stripped) != len(sl):
            lead = len(sl) - len(sl.lstrip())
            s, e = s + lead, s + lead + len(stripped)
            self.counts.fixes["trimmed"] += 1
        return (s, e)

    # ---- adjudication -------------------------------------------------------------------------
