"""The annotator's experience, in a real browser against the real Label Studio.

A headless Debian Chromium (driven by Selenium, see ``browser_helpers.py``) signs up and logs in
as an annotator, opens one task of each bundled config in the labelling stream, checks what an
annotator must see, annotates with the mouse and the declared hotkeys, and submits. The test then
pulls the project, normalises the export and checks that the spans are exactly the words selected,
in Python code points, although emoji (outside the Basic Multilingual Plane: one code point, two
UTF-16 units) come before them.

What the editor stores (Label Studio 1.23.2 in Chromium 156) is written down in
``docs/label_studio_offsets.md``; ``test_entity_hotkeys_and_mouse_spans_come_out_exact`` pins it.

Screenshots go to ``test-artifacts/screenshots/``. Without Chromium, chromedriver or Selenium the
tests are skipped with the reason, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from browser_helpers import Annotator, find_binaries
from dataset_builder import label_studio as ls
from dataset_builder.normalise import normalise_export
from dataset_builder.schema import list_configs, load_schema

pytestmark = [pytest.mark.browser, pytest.mark.label_studio]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

# Emoji before every entity: 🎉 is 1 code point / 2 UTF-16 units; the flag 🇩🇪 is 2 code points /
# 4 units / 1 grapheme; 👏 adds one more. Code point, UTF-16 and grapheme offsets all differ.
TEXT = "Fans cheered 🎉🇩🇪 as Angela Merkel thanked UEFA 👏 in Berlin before Euro 2024."
TITLE = "Merkel thanks UEFA 🎉"
DATE = "2024-07-15"
TARGET = "Angela Merkel"

PASSWORD = "annotator-Pass-4821"


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _utf16(text: str, cp: int) -> int:
    return len(text[:cp].encode("utf-16-le")) // 2


def _span(word: str, label: str) -> dict:
    start = TEXT.index(word)
    return {"start": start, "end": start + len(word), "label": label, "text": word}


@pytest.fixture(scope="session", autouse=True)
def chromium():
    """``(chromium, chromedriver)``; skip (fail under CI=true) when the browser is not installed.

    Session-scoped and autouse (for this module's tests only) so that it runs before the session's
    Label Studio starts: without a browser nothing waits for the server.
    """
    problems = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("the Python package selenium is not installed (pip install -e '.[test]')")
    browser, driver = find_binaries()
    if browser is None:
        problems.append("no chromium (apt-get install chromium)")
    if driver is None:
        problems.append("no chromedriver (apt-get install chromium-driver)")
    if problems:
        message = "browser tests need Chromium: " + "; ".join(problems) + " (scripts/setup.sh installs them as root)"
        if _ci():
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    return browser, driver


@pytest.fixture(scope="module")
def projects(label_studio):
    """One project per bundled config, each with one task holding ``TEXT``: ``{config: project id}``."""
    conn = label_studio.connection()
    row = {"id": "browser-0", "article_id": "browser", "index": 0, "start": 0, "end": len(TEXT), "text": TEXT,
           "title": TITLE, "date": DATE, "target": TARGET, "target_start": TEXT.index(TARGET),
           "target_end": TEXT.index(TARGET) + len(TARGET)}
    out = {}
    for name in list_configs():
        report = ls.push_segments(conn, [row], name, project_title=f"browser {name}")
        assert report.imported == 1, report.to_dict()
        out[name] = report.project_id
    return out


@pytest.fixture(scope="module")
def annotator(chromium, label_studio):
    """A new annotator account, made with the sign-up form, then logged in with the login form.

    Yields ``(Annotator, user id)``; the browser is stopped at the end of the module.
    """
    browser, driver = chromium
    email = f"annotator-{int(time.time())}@example.com"
    with Annotator(label_studio.url, chromium=browser, chromedriver=driver, artifacts=ARTIFACTS) as a:
        a.sign_up(email, PASSWORD)
        a.log_out()
        a.log_in(email, PASSWORD)
        me = a.whoami()
        assert me.get("email") == email, me
        yield a, me["id"]


def _pull_and_normalise(label_studio, config: str, tmp_path: Path, expected_annotations: int = 1):
    """Pull ``browser <config>`` (waiting for the submitted annotation) and normalise the export."""
    conn = label_studio.connection()
    deadline = time.monotonic() + 20
    while True:
        pulled = ls.pull_export(conn, f"browser {config}", out_dir=tmp_path / "exports")
        if pulled.annotation_count >= expected_annotations or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    raw = json.loads(pulled.export_path.read_bytes())
    report = normalise_export(pulled.export_path, load_schema(config), tmp_path / "normalised")
    rows = [json.loads(line) for line in (tmp_path / "normalised" / "annotations.jsonl").read_text("utf-8").splitlines()]
    return raw, report, rows


def _submit(a: Annotator) -> None:
    """Submit with Ctrl+Enter (the key the instructions give) and wait until the stream moves on."""
    a.ctrl_enter()
    a.wait_for("the task to leave the screen after Ctrl+Enter", lambda: TEXT not in a.task_text())


# --------------------------------------------------------------------------------------------
# What the annotator sees
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["entities", "entities_stance", "target_stance"])
def test_each_config_shows_the_annotator_everything(config, annotator, projects):
    a, _ = annotator
    schema = load_schema(config)
    popup = a.open_stream(projects[config])
    lines = schema.instructions.splitlines()
    assert lines and all(line in popup for line in lines), (popup, lines)

    # the instructions again, above the task, every line displayed
    shown = a.visible_texts(".instructions h4")
    assert all(line in shown for line in lines), shown
    assert a.task_text() == TEXT
    assert TITLE in a.visible_texts(".segment-meta h3")
    assert f"Published: {DATE}" in a.visible_texts(".segment-meta h4")
    # the segment, not the instructions, is the largest body text
    assert a.font_size(".lsf-htx-richtext") > a.font_size(".instructions h4:not(:first-child)")

    buttons = a.label_buttons()
    for key, label in schema.hotkeys:
        if label in schema.entity_labels:
            assert buttons.get(label) == key, f"{config}: label {label} shows key {buttons.get(label)!r}, not {key!r}"
    assert set(schema.entity_labels) <= set(buttons)
    if config == "target_stance":
        assert f"Target: {TARGET}" in a.visible_texts("h3")
        assert set(a.choices()) == set(schema.stance_labels)
    elif schema.stance_per_region:
        assert a.choices() == {}, "per-region stance choices show before any entity is selected"
    a.screenshot(config)


def test_target_stance_premark_highlights_exactly_the_target(annotator, projects):
    """The TARGET region that push pre-marks must cover the target's words on screen."""
    a, _ = annotator
    a.open_stream(projects["target_stance"])
    marks = a.wait_for("the pre-marked TARGET region", a.highlights)
    a.screenshot("target_stance-premark")
    assert [(h.text, h.label) for h in marks] == [(TARGET, "TARGET")], (
        "the pre-marked target is drawn over the wrong characters: push must send Label Studio "
        "code point offsets (see docs/label_studio_offsets.md)"
    )


# --------------------------------------------------------------------------------------------
# Annotating by mouse and hotkeys, then pull -> normalise
# --------------------------------------------------------------------------------------------


def test_entity_hotkeys_and_mouse_spans_come_out_exact(annotator, projects, label_studio, tmp_path):
    a, user_id = annotator
    schema = load_schema("entities")
    keys = {label: key for key, label in schema.hotkeys}
    a.open_stream(projects["entities"])
    # each entity label by its hotkey, then the words by mouse: two drags, two double-clicks
    a.key(keys["PER"])
    a.drag_select("Angela Merkel")
    a.key(keys["ORG"])
    a.double_click("UEFA")
    a.key(keys["LOC"])
    a.double_click("Berlin")
    a.key(keys["MISC"])
    a.drag_select("Euro 2024")
    drawn = a.wait_for("four regions", lambda: (h := a.highlights()) and len(h) == 4 and h)
    assert [(h.text, h.label) for h in drawn] == [
        ("Angela Merkel", "PER"), ("UEFA", "ORG"), ("Berlin", "LOC"), ("Euro 2024", "MISC")]
    a.screenshot("entities-annotated")
    _submit(a)

    raw, report, rows = _pull_and_normalise(label_studio, "entities", tmp_path)
    (task,) = raw
    (ann,) = task["annotations"]
    assert ann["completed_by"] == user_id and not ann["was_cancelled"]
    # What the editor stores (docs/label_studio_offsets.md): code points, not UTF-16 units.
    for r in ann["result"]:
        v = r["value"]
        cp = TEXT.index(v["text"])
        assert _utf16(TEXT, cp) != cp  # the text tells the two conventions apart
        assert (v["start"], v["end"]) == (cp, cp + len(v["text"])), (
            f"Label Studio stored {v} for {v['text']!r}: code points would be {cp}, UTF-16 units {_utf16(TEXT, cp)}"
        )
    assert report.annotations.kept == 1 and report.results.kept == 4, report.summary()
    (record,) = rows
    assert record["annotator"] == a.whoami()["username"] and record["text"] == TEXT  # the handle: their username
    assert record["entities"] == [_span("Angela Merkel", "PER"), _span("UEFA", "ORG"),
                                  _span("Berlin", "LOC"), _span("Euro 2024", "MISC")]


def test_entities_stance_by_mouse_and_hotkeys_round_trips(annotator, projects, label_studio, tmp_path):
    a, user_id = annotator
    schema = load_schema("entities_stance")
    keys = {label: key for key, label in schema.hotkeys}
    a.open_stream(projects["entities_stance"])

    a.key(keys["PER"])
    a.drag_select("Angela Merkel")
    a.wait_for("the PER region", a.highlights)
    a.click("Merkel")  # select the region: its stance choices appear
    assert a.wait_for("the stance choices", a.choices) == {label: False for label in schema.stance_labels}
    a.key(keys["favor"])
    a.wait_for("favor to be checked", lambda: a.choices().get("favor"))
    a.screenshot("entities_stance-annotating")
    a.key("ESCAPE")  # as the instructions say: unselect before the next entity
    a.wait_for("the stance choices to hide", lambda: not a.choices())

    a.key(keys["ORG"])
    a.double_click("UEFA")
    a.wait_for("the ORG region", lambda: len(a.highlights()) == 2)
    a.click("UEFA")
    a.wait_for("the stance choices", a.choices)
    a.key(keys["against"])
    a.wait_for("against to be checked", lambda: a.choices().get("against"))
    a.key("ESCAPE")
    assert [(h.text, h.label) for h in a.highlights()] == [("Angela Merkel", "PER"), ("UEFA", "ORG")]
    _submit(a)

    raw, report, rows = _pull_and_normalise(label_studio, "entities_stance", tmp_path)
    (ann,) = raw[0]["annotations"]
    assert ann["completed_by"] == user_id
    (record,) = rows
    assert record["annotator"] == a.whoami()["username"]  # the handle: their username
    merkel, uefa = _span("Angela Merkel", "PER"), _span("UEFA", "ORG")
    assert record["entities"] == [merkel, uefa]
    assert record["stances"] == [
        {"target_start": merkel["start"], "target_end": merkel["end"], "target_text": "Angela Merkel", "label": "favor"},
        {"target_start": uefa["start"], "target_end": uefa["end"], "target_text": "UEFA", "label": "against"},
    ]
    assert report.results.rejected == {}, report.summary()


def test_target_stance_by_hotkey_round_trips(annotator, projects, label_studio, tmp_path):
    a, user_id = annotator
    schema = load_schema("target_stance")
    keys = {label: key for key, label in schema.hotkeys}
    a.open_stream(projects["target_stance"])
    a.key(keys["neutral"])
    a.wait_for("neutral to be checked", lambda: a.choices().get("neutral"))
    a.screenshot("target_stance-annotated")
    _submit(a)

    raw, report, rows = _pull_and_normalise(label_studio, "target_stance", tmp_path)
    (ann,) = raw[0]["annotations"]
    assert ann["completed_by"] == user_id
    (record,) = rows
    start = TEXT.index(TARGET)
    assert record["stances"] == [
        {"target_start": start, "target_end": start + len(TARGET), "target_text": TARGET, "label": "neutral"}]
    assert record["entities"] == []



# --------------------------------------------------------------------------------------------
# A team: two annotators disagree, the adjudicator resolves it in the UI, the dataset holds it
# --------------------------------------------------------------------------------------------

ADJ_TEXT = "Fans cheered as Angela Merkel thanked UEFA in Berlin."
ADJ_BEFORE, ADJ_AFTER = "The final was on Sunday.", "The team flew home."


def _region(rid: str, word: str, label: str, stance: str | None = None) -> list[dict]:
    s = ADJ_TEXT.index(word)
    value = {"start": s, "end": s + len(word), "text": word}
    out = [{"id": rid, "from_name": "entity", "to_name": "text", "type": "labels", "value": {**value, "labels": [label]}}]
    if stance:
        out.append({"id": rid, "from_name": "stance", "to_name": "text", "type": "choices",
                    "value": {**value, "choices": [stance]}})
    return out


NO_ENTITIES = [{"id": "none", "from_name": "no_entities", "to_name": "text", "type": "choices",
                "value": {"choices": ["none"]}}]


def _annotation_count(label_studio, task_id: int) -> int:
    import httpx

    answer = httpx.get(f"{label_studio.url}/api/tasks/{task_id}/annotations/",
                       headers={"Authorization": f"Token {label_studio.api_key}"}, timeout=60)
    answer.raise_for_status()
    return len(answer.json())


def _visible_modal_texts(a: Annotator) -> list[str]:
    return a.visible_texts(".ant-modal, .lsf-modal-ls")


def test_adjudicator_resolves_a_dispute_in_the_ui_and_the_dataset_holds_it(chromium, label_studio, tmp_path):
    """The issue's loop: overlap, disagreement, the adjudication tab and link, the stance block, the rebuild."""
    from click.testing import CliRunner

    from dataset_builder import build, pipeline, splits
    from dataset_builder.cli import cli
    from dataset_builder.records import Article
    from ls_accounts import sign_up

    browser, driver = chromium
    conn = label_studio.connection()
    title = "browser adjudication"
    texts = [ADJ_BEFORE, ADJ_TEXT, ADJ_AFTER]
    rows = [{"id": f"adj-{i}", "article_id": "adj", "index": i, "start": 0, "end": len(t), "text": t, "title": TITLE,
             "date": DATE} for i, t in enumerate(texts)]
    pid = ls.push_segments(conn, rows, "entities_stance", project_title=title, annotators=2).project_id
    task_ids = [t["id"] for t in ls.list_task_data(conn, title)]
    stamp = time.time_ns()
    ann, bea = (sign_up(label_studio.url, f"{name}{stamp}@example.org") for name in ("ann", "bea"))
    try:
        ann.submit(pid, task_ids[1], _region("a1", "Angela Merkel", "PER", "favor") + _region("a2", "UEFA", "ORG", "against"))
        bea.submit(pid, task_ids[1], _region("b1", "Angela Merkel", "PER", "against"))
        for person in (ann, bea):
            for tid in (task_ids[0], task_ids[2]):
                person.submit(pid, tid, NO_ENTITIES)
    finally:
        ann.close()
        bea.close()
    prepared = pipeline.adjudicate(conn, title, out_dir=tmp_path / "adjudicate")
    (task,) = prepared.tasks
    assert task.task_id == task_ids[1]

    email = f"kim{stamp}@example.org"
    handle = email.split("@")[0]  # the Label Studio username the sign-up gives
    with Annotator(label_studio.url, chromium=browser, chromedriver=driver, artifacts=ARTIFACTS) as k:
        k.sign_up(email, PASSWORD)
        k.log_out()
        k.log_in(email, PASSWORD)
        k.driver.get(task.link)
        k.wait_for("the disputed task", lambda: k.task_text() == ADJ_TEXT)
        k.wait_for("each annotator's version as a tab",
                   lambda: len(k.visible_texts(".lsf-annotation-button")) == 2)
        assert ADJ_BEFORE in k.visible_texts(".context h4") and ADJ_AFTER in k.visible_texts(".context h4")
        assert f"Published: {DATE}" in k.visible_texts(".segment-meta h4")
        k.screenshot("adjudication-opened")
        k.wait_for("the + button", lambda: [e for e in k.driver.find_elements(
            "css selector", 'button[aria-label="Create an annotation"]') if e.is_displayed()])[0].click()
        k.wait_for("a new, empty annotation", lambda: len(k.visible_texts(".lsf-annotation-button")) == 3
                   and not k.highlights())

        # the block: an entity without its stance is refused
        k.key("p")
        k.drag_select("Angela Merkel")
        k.wait_for("the PER region", k.highlights)
        k.key("ESCAPE")
        k.ctrl_enter()
        warning = k.wait_for("the editor's refusal", lambda: [t for t in _visible_modal_texts(k) if "stance" in t])
        assert 'Checkbox "stance" is required' in warning[0], warning
        k.screenshot("adjudication-stance-required")
        time.sleep(1)
        assert _annotation_count(label_studio, task.task_id) == 2, "an entity without stance was submitted"
        k.wait_for("the OK button", lambda: [b for b in k.driver.find_elements(
            "css selector", ".ant-modal button, .lsf-modal-ls button") if b.is_displayed()])[-1].click()
        k.wait_for("the warning to close", lambda: not _visible_modal_texts(k))

        # the editor selects the entity that lacks its stance: give it, then the second entity
        k.wait_for("the stance choices of that entity", k.choices)
        k.key("f")
        k.wait_for("favor to be checked", lambda: k.choices().get("favor"))
        k.key("ESCAPE")
        k.wait_for("the stance choices to hide", lambda: not k.choices())
        k.key("o")
        k.double_click("UEFA")
        k.wait_for("the ORG region", lambda: len(k.highlights()) == 2)
        k.click("UEFA")
        k.wait_for("the stance choices", k.choices)
        k.key("n")
        k.wait_for("neutral to be checked", lambda: k.choices().get("neutral"))
        k.key("ESCAPE")
        k.ctrl_enter()
        k.wait_for("the adjudication to reach the server", lambda: _annotation_count(label_studio, task.task_id) == 3)
        k.screenshot("adjudication-submitted")

    # pull -> normalise --adjudicator -> split -> build: the adjudicated labels are the dataset's
    pulled = ls.pull_export(conn, title, out_dir=tmp_path / "exports")
    norm = tmp_path / "normalised"
    result = CliRunner().invoke(cli, ["normalise", str(pulled.export_path.parent), "-o", str(norm),
                                      "--adjudicator", handle])
    assert result.exit_code == 0, result.output
    gold = splits.read_gold(norm / "gold.jsonl")
    articles = [Article(id="adj", text=" ".join(texts), title=TITLE, date=DATE)]
    manifest = splits.assign_splits(gold, articles).manifest
    schema = load_schema("entities_stance")
    build.build_dataset(gold, manifest, schema, tmp_path / "dataset", articles=articles)
    ner_splits = build.load_built(tmp_path / "dataset", "ner")
    tags = next(iter(ner_splits.values())).features["ner_tags"].feature.names
    ner = [row for split in ner_splits.values() for row in split]
    stance = build.load_built(tmp_path / "dataset", "stance")
    names = next(iter(stance.values())).features["label"].names
    adjudicated = {(r["target"], names[r["label"]]) for split in stance.values() for r in split
                   if r["segment_id"] == "adj-1"}
    assert adjudicated == {("Angela Merkel", "favor"), ("UEFA", "neutral")}
    (row,) = [r for r in ner if r["text"] == ADJ_TEXT]
    assert [(tok, tags[t]) for tok, t in zip(row["tokens"], row["ner_tags"]) if tags[t] != "O"] == [
        ("Angela", "B-PER"), ("Merkel", "I-PER"), ("UEFA", "B-ORG")]
    assert sorted(r["text"] for r in ner) == sorted(texts)  # the agreed "no entities" segments are rows too
    report = json.loads((norm / "report.json").read_text("utf-8"))
    assert handle in report["adjudicators"] and handle not in report["annotators"]
