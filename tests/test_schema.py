"""The label schema is read from the XML configs, in dataset_builder/schema.py only."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from dataset_builder.errors import SchemaError
from dataset_builder.schema import CONFIG_DIR, LabelSchema, config_path, list_configs, load_schema

CONLL = {"PER", "ORG", "LOC", "MISC"}


def _write(tmp_path: Path, body: str, name: str = "cfg.xml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """<View>
  <Labels name="ent" toName="doc"><Label value="A" hotkey="a"/><Label value="B"/></Labels>
  <Text name="doc" value="$text"/>
  <Choices name="st" toName="doc" perRegion="true"><Choice value="x"/><Choice value="y"/></Choices>
</View>"""


def test_bundled_configs_are_the_three_of_the_issue():
    assert set(list_configs()) >= {"entities_stance", "entities", "target_stance"}
    assert {p.stem for p in CONFIG_DIR.glob("*.xml")} == set(list_configs())


@pytest.mark.parametrize("name", ["entities_stance", "entities", "target_stance"])
def test_every_bundled_config_is_readable_and_usable(name):
    schema = load_schema(name)
    assert schema.name == name
    assert schema.path == CONFIG_DIR / f"{name}.xml"
    assert schema.config_hash == hashlib.sha256(schema.path.read_bytes()).hexdigest()
    assert schema.xml == schema.path.read_text(encoding="utf-8")
    assert schema.to_name == "text" and schema.text_field == "text"
    # Readable layout: the annotator sees the article's title and its source and date (``meta``:
    # only the parts that exist), and the neighbouring sentences as context.
    assert {"text", "title", "meta", "context_before", "context_after"} <= set(schema.data_fields)
    if schema.entity_labels:  # an explicit "no entities in this segment" choice
        assert schema.no_entities_from_name == "no_entities"
    assert schema.instructions.strip()
    # Every label has a hotkey, and the instructions name it.
    keys = dict((label, key) for key, label in schema.hotkeys)
    for label in schema.entity_labels + schema.stance_labels:
        assert label in keys, f"{name}: label {label} has no hotkey"
        assert f"({keys[label]})" in schema.instructions, f"{name}: instructions do not give the key of {label}"


def test_entities_stance_has_conll_entities_and_per_region_stance():
    s = load_schema("entities_stance")
    assert set(s.entity_labels) == CONLL
    assert set(s.stance_labels) == {"favor", "against", "neutral"}
    assert s.stance_per_region and not s.has_target
    assert (s.entity_from_name, s.stance_from_name) == ("entity", "stance")


def test_entities_config_has_no_stance():
    s = load_schema("entities")
    assert set(s.entity_labels) == CONLL
    assert s.stance_labels == () and s.stance_from_name is None and not s.stance_per_region


def test_target_stance_takes_the_target_from_the_task():
    s = load_schema("target_stance")
    assert s.has_target and not s.stance_per_region
    assert s.entity_labels == ()  # the TARGET marker is not an entity label
    assert s.target_from_name == "target"
    assert {"target", "target_start", "target_end"} <= set(s.data_fields)


def test_load_by_path_and_name_agree(tmp_path):
    by_name = load_schema("entities")
    copy = _write(tmp_path, by_name.xml, "entities.xml")
    by_path = load_schema(copy)
    assert by_path.config_hash == by_name.config_hash
    assert dataclasses.replace(by_path, path=by_name.path) == by_name


def test_hash_changes_with_the_bytes(tmp_path):
    a = load_schema(_write(tmp_path, MINIMAL, "a.xml"))
    b = load_schema(_write(tmp_path, MINIMAL + "\n", "b.xml"))
    assert a.config_hash != b.config_hash
    assert a.labels == b.labels == ("A", "B", "x", "y")


def test_custom_names_are_read_from_the_xml(tmp_path):
    s = load_schema(_write(tmp_path, MINIMAL))
    assert (s.entity_from_name, s.stance_from_name, s.to_name) == ("ent", "st", "doc")
    assert s.stance_per_region
    assert s.hotkeys == (("a", "A"),)


def test_schema_is_frozen():
    s = load_schema("entities")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.entity_labels = ("X",)  # type: ignore[misc]


@pytest.mark.parametrize(
    "body, match",
    [
        ("<View><Text name='t' value='$text'>", r"cfg\.xml:1: not well-formed XML"),
        ("", r"cfg\.xml: the config is empty"),
        ("<Foo/>", r"root tag is <Foo>; a Label Studio config starts with <View>"),
        ("<View><Labels name='e' toName='t'><Label value='A'/></Labels></View>",
         r"expected exactly one named <Text value=\"\$text\"> object; found 0"),
        ("<View><Text name='t' value='$text'/></View>", r"no entity and no stance labels"),
        ("<View><Text name='t' value='$text'/><Labels name='e' toName='t'/></View>",
         r"<Labels name=\"e\"> has no <Label>"),
        ("<View><Text name='t' value='$text'/><Labels name='e' toName='t'><Label value='A'/><Label value='A'/></Labels></View>",
         r"duplicate entity label\(s\) A; each label must appear once"),
        ("<View><Text name='t' value='$text'/><Choices name='c' toName='t'><Choice value='x'/><Choice value='x'/></Choices></View>",
         r"duplicate stance label\(s\) x"),
        ("<View><Text name='t' value='$text'/><Labels name='e' toName='nope'><Label value='A'/></Labels></View>",
         r"points at toName=\"nope\", which is no object"),
        ("<View><Text name='t' value='$text'/><Labels name='e' toName='t'><Label value=''/></Labels></View>",
         r"a <Label> in <Labels name=\"e\"> has no value"),
        ("<View><Text name='t' value='$text'/><Choices name='c' toName='t' perRegion='true'><Choice value='x'/></Choices></View>",
         r"perRegion but there is no entity <Labels>"),
        ("<View><Text name='t' value='$text'/><Labels name='a' toName='t'><Label value='A'/></Labels>"
         "<Labels name='b' toName='t'><Label value='B'/></Labels></View>",
         r"at most one entity <Labels> on \"t\"; found 2 \(a, b\)"),
        ("<View><Text name='t' value='$text'/><Labels name='e' toName='t'><Label value='A' hotkey='q'/>"
         "<Label value='B' hotkey='Q'/></Labels></View>",
         r"hotkey 'q' is used by both 'A' and 'B'"),
    ],
)
def test_bad_configs_raise_a_clear_schema_error(tmp_path, body, match):
    with pytest.raises(SchemaError, match=match):
        load_schema(_write(tmp_path, body))


def test_dtd_and_entities_are_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        "<View><Text name='t' value='$text'/><Labels name='e' toName='t'><Label value='&b;'/></Labels></View>"
    )
    with pytest.raises(SchemaError, match=r"refused unsafe XML"):
        load_schema(_write(tmp_path, bomb))


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "cfg.xml"
    path.write_bytes(MINIMAL.replace('"A"', '"\u00c4"').encode("latin-1"))
    with pytest.raises(SchemaError, match=r"not UTF-8"):
        load_schema(path)


def test_unknown_config_name_lists_the_bundled_ones():
    with pytest.raises(SchemaError, match=r"unknown labelling config 'nope'.*entities_stance"):
        config_path("nope")


def test_record_validates_itself():
    s = load_schema("entities")
    with pytest.raises(SchemaError, match=r"duplicate entity label\(s\) PER"):
        dataclasses.replace(s, entity_labels=("PER", "PER"))
    with pytest.raises(SchemaError, match=r"config_hash must be 64 hex"):
        dataclasses.replace(s, config_hash="abc")
    assert isinstance(s, LabelSchema)
