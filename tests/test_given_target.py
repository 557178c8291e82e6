"""Stance toward a given target (a headline, a claim, a topic) outside the text: records, schema, normalise."""

from __future__ import annotations

import json

import pytest

from dataset_builder.errors import SchemaError
from dataset_builder.records import Annotation, StanceLabel


def test_given_target_record_round_trips_without_offsets():
    st = StanceLabel(None, None, "Climate change is a real concern", "favor")
    assert st.given and st.target_kind == "given"
    assert st.to_dict() == {"target_text": "Climate change is a real concern", "label": "favor"}
    ann = Annotation(segment_id="s1", article_id="a1", text="Winter was warm again.", annotator="x", stances=(st,))
    back = Annotation.from_dict(json.loads(json.dumps(ann.to_dict())))
    assert back == ann and back.stances[0].given


def test_span_target_line_keeps_its_bytes():
    st = StanceLabel(0, 5, "Obama", "against")
    assert list(st.to_dict()) == ["target_start", "target_end", "target_text", "label"]
    assert st.target_kind == "span"
    with pytest.raises(Exception):
        Annotation(segment_id="s", article_id="a", text="Trump spoke", annotator="x", stances=(st,))


def test_given_target_must_have_text_and_both_or_no_offsets():
    with pytest.raises(SchemaError):
        StanceLabel(None, None, "  ", "favor")
    with pytest.raises(Exception):
        StanceLabel(0, None, "x", "favor")
