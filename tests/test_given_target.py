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


# ---- schema: target kind and metric roles ------------------------------------------------------

from dataset_builder.schema import load_schema, parse_schema  # noqa: E402


def _config(choices: str, extra: str = "") -> bytes:
    return (f'<View><Header value="$target"/>{extra}<Text name="text" value="$text"/>'
            f'<Choices name="stance" toName="text" {choices}</Choices></View>').encode()


def test_bundled_configs_declare_target_kind_and_metric():
    given = load_schema("given_target_stance")
    assert (given.target_kind, given.stance_metric, given.target_from_name) == ("given", "f_avg", None)
    assert dict(given.stance_roles) == {"favor": "favor", "against": "against"}
    assert "target_start" not in given.data_fields and "target" in given.data_fields
    fnc = load_schema("headline_stance")
    assert (fnc.target_kind, fnc.stance_metric, dict(fnc.stance_roles)) == ("given", "fnc1", {"unrelated": "unrelated"})
    span = load_schema("target_stance")
    assert span.target_kind == "span" and {"target_start", "target_end"} <= set(span.data_fields)
    assert load_schema("entities_stance").target_kind == "span"


def test_metric_roles_any_label_set(tmp_path):
    s = parse_schema(_config('metric="f_avg"><Choice value="pro" role="favor"/><Choice value="con" role="against"/>'
                             '<Choice value="none"/>'), name="x", path=tmp_path / "x.xml")
    assert dict(s.stance_roles) == {"favor": "pro", "against": "con"}
    s = parse_schema(_config('><Choice value="pos"/><Choice value="neg"/>'), name="x", path=tmp_path / "x.xml")
    assert (s.stance_metric, s.stance_roles) == ("macro_f1", ())


@pytest.mark.parametrize("choices, message", [
    ('metric="accuracy"><Choice value="a"/>', "use one of f_avg, fnc1, macro_f1"),
    ('metric="f_avg"><Choice value="pro" role="favor"/><Choice value="con"/>', "exactly one <Choice role=\"against\">"),
    ('metric="fnc1"><Choice value="a"/><Choice value="b"/>', "exactly one <Choice role=\"unrelated\">"),
    ('metric="macro_f1"><Choice value="a" role="favor"/>', "mean nothing to metric 'macro_f1'"),
])
def test_bad_metric_roles_are_refused_naming_the_file(tmp_path, choices, message):
    with pytest.raises(SchemaError, match="x.xml") as exc:
        parse_schema(_config(choices), name="x", path=tmp_path / "x.xml")
    assert message in str(exc.value)


# ---- push task data and normalise --------------------------------------------------------------

from dataset_builder.label_studio.tasks import task_data  # noqa: E402
from dataset_builder.normalise import normalise_tasks  # noqa: E402
from dataset_builder.records import Segment  # noqa: E402

BODY = "Officials denied the report on Monday.\n\nA spokesman said no such plan existed."
HEADLINE = "City to ban cars from the centre"


def _task(task_id: int, choices: list[tuple[int, str]], target=HEADLINE) -> dict:
    return {
        "id": task_id,
        "data": {"text": BODY, "segment_id": f"s{task_id}", "article_id": f"a{task_id}", "target": target},
        "annotations": [
            {"id": 100 * task_id + k, "completed_by": user, "was_cancelled": False,
             "result": [{"id": f"r{k}", "from_name": "stance", "to_name": "text", "type": "choices",
                         "value": {"choices": [label]}}]}
            for k, (user, label) in enumerate(choices)
        ],
    }


def test_push_task_data_has_the_given_target_without_offsets():
    schema = load_schema("headline_stance")
    seg = Segment(id="s1", article_id="a1", index=0, start=0, end=len(BODY), text=BODY, unit="paragraph")
    data = task_data(schema, seg, {"target": HEADLINE})
    assert data["text"] == BODY and data["target"] == HEADLINE
    assert "target_start" not in data and "target_end" not in data
    with pytest.raises(SchemaError, match="given target"):
        task_data(schema, seg, {"target": ""})


def test_normalise_reads_a_given_target_stance_from_the_task_data():
    schema = load_schema("headline_stance")
    results, report = normalise_tasks(
        [_task(1, [(1, "disagree"), (2, "disagree"), (3, "discuss")]), _task(2, [(1, "agree"), (2, "unrelated")]),
         _task(3, [(1, "agree")], target="  ")], schema)
    gold = results[0].gold
    assert gold.text == BODY  # nothing glued into the text
    assert [s.to_dict() for s in gold.stances] == [{"target_text": HEADLINE, "label": "disagree"}]
    assert [a.stances[0].label for a in results[0].annotations] == ["disagree", "disagree", "discuss"]
    assert results[1].gold is None  # a 1-1 tie: listed for an adjudicator
    assert results[1].unresolved[0]["target"] == HEADLINE and results[1].unresolved[0]["kind"] == "stance"
    assert results[2].gold is None and results[2].rejections[0].reason == "bad_target"
    assert (report.tasks.read, report.tasks.kept) == (3, 1)


# ---- build ---------------------------------------------------------------------------------------

import pyarrow.parquet as pq  # noqa: E402

from dataset_builder.build import build_dataset  # noqa: E402
from dataset_builder.records import GOLD, SplitManifest  # noqa: E402

FNC_LABELS = ("agree", "disagree", "discuss", "unrelated")


def _given_gold(n: int = 12) -> list[Annotation]:
    gold = []
    for i in range(n):
        body = f"Body number {i} says the mayor met residents.\n\nThey talked about parking {i}."
        gold.append(Annotation(segment_id=f"a{i:02d}-s0", article_id=f"a{i:02d}", text=body, annotator=GOLD,
                               stances=(StanceLabel(None, None, f"Headline {i % 3}: mayor bans cars", FNC_LABELS[i % 4]),)))
    return gold


def test_build_declares_a_given_target_and_glues_nothing_into_text(tmp_path):
    gold = _given_gold()
    ids = sorted(a.article_id for a in gold)
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1),
                             splits={"train": tuple(ids[:8]), "validation": tuple(ids[8:10]), "test": tuple(ids[10:])})
    build_dataset(gold, manifest, load_schema("headline_stance"), tmp_path / "ds")
    table = pq.read_table(tmp_path / "ds" / "stance" / "train.parquet")
    assert "target_start" not in table.column_names and "target_end" not in table.column_names
    rows = table.to_pylist()
    by_id = {g.segment_id: g for g in gold}
    assert len(rows) == 8
    for row in rows:
        g = by_id[row["segment_id"]]
        assert row["id"] == f"{g.segment_id}@target"
        assert row["text"] == g.text and "\n\n" in row["text"]  # paragraphs kept, no target line glued in
        assert row["target"] == g.stances[0].target_text
        assert FNC_LABELS[row["label"]] == g.stances[0].label
    task = json.loads(table.schema.metadata[b"dataset_builder.stance_task"])
    assert task == {"metric": "fnc1", "roles": {"unrelated": "unrelated"}, "target_kind": "given"}
    card = (tmp_path / "ds" / "DATASET_CARD.md").read_text(encoding="utf-8")
    assert "a **given target**" in card and "FNC-1 score" in card and "`{segment_id}@target`" in card
    assert "target_start, target_end" not in card.split("### `stance`")[1].split("###")[0]


def test_build_refuses_a_span_gold_for_a_given_target_config(tmp_path):
    gold = [Annotation(segment_id="a00-s0", article_id="a00", text="Obama spoke.", annotator=GOLD,
                       stances=(StanceLabel(0, 5, "Obama", "favor"),))]
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a00",), "validation": (), "test": ()})
    with pytest.raises(SchemaError, match="span stance target"):
        build_dataset(gold, manifest, load_schema("given_target_stance"), tmp_path / "ds")
