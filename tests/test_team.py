"""A team in Label Studio: several annotators per task through the labelling stream, users in the snapshot,
adjudication and the lead's status, against the session's real server.

The people sign up with Label Studio's own form and work in their own sessions
(``ls_accounts.py``); only set-up (push, pull) uses the admin's API key.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from click.testing import CliRunner

from dataset_builder import label_studio as ls
from dataset_builder.cli import cli
from dataset_builder.label_studio.tasks import meta_line, with_context
from ls_accounts import sign_up

TEXTS = ("Angela Merkel met Emmanuel Macron in Paris.", "The UN praised Kenya.", "Apple opened a shop in Oslo.")


def _rows(prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "article_id": prefix, "index": i, "start": 0, "end": len(t), "text": t,
             "title": "Team test", "date": "2024-05-01"} for i, t in enumerate(TEXTS)]


def _project(label_studio, project_id: int) -> dict:
    answer = httpx.get(f"{label_studio.url}/api/projects/{project_id}",
                       headers={"Authorization": f"Token {label_studio.api_key}"}, timeout=60)
    answer.raise_for_status()
    return answer.json()


def _people(label_studio, *names: str):
    stamp = time.time_ns()
    return [sign_up(label_studio.url, f"{name}{stamp}@example.org") for name in names]


@pytest.mark.label_studio
def test_the_stream_gives_each_task_to_two_annotators_then_to_no_third(label_studio):
    conn = label_studio.connection()
    title = f"team overlap {label_studio.database}"
    pushed = ls.push_segments(conn, _rows("overlap"), "entities", project_title=title, annotators=2)
    pid = pushed.project_id
    settings = _project(label_studio, pid)
    assert (settings["maximum_annotations"], settings["overlap_cohort_percentage"],
            settings["show_overlap_first"]) == (2, 100, True)
    ann, bea, cem = _people(label_studio, "ann", "bea", "cem")
    try:
        first = ann.next_task(pid)
        assert first is not None and first["data"]["segment_id"] == "overlap-0"
        second = bea.next_task(pid)
        assert second is not None and second["id"] == first["id"], "the second annotator got another task"
        ann.submit(pid, first["id"], [])
        bea.submit(pid, first["id"], [])
        third = cem.next_task(pid)
        assert third is not None and third["id"] != first["id"], "a third annotator got a task two people did"
        # once two submitted, the task is done: neither of them gets it again
        assert (ann.next_task(pid) or {}).get("id") != first["id"]
    finally:
        for person in (ann, bea, cem):
            person.close()

    # pushing again with another number updates the setting and imports nothing
    again = ls.push_segments(conn, _rows("overlap"), "entities", project_title=title, annotators=1)
    assert (again.imported, again.already_present) == (0, len(TEXTS))
    assert _project(label_studio, pid)["maximum_annotations"] == 1
    ls.push_segments(conn, _rows("overlap"), "entities", project_title=title)  # None: the setting stays
    assert _project(label_studio, pid)["maximum_annotations"] == 1


@pytest.mark.label_studio
def test_with_one_annotator_per_task_the_stream_hands_out_different_tasks(label_studio):
    """The control: Label Studio's own default, which the issue saw."""
    conn = label_studio.connection()
    pid = ls.push_segments(conn, _rows("single"), "entities", project_title=f"team single {label_studio.database}",
                           annotators=1).project_id
    ann, bea = _people(label_studio, "dan", "eve")
    try:
        assert ann.next_task(pid)["id"] != bea.next_task(pid)["id"]
    finally:
        ann.close()
        bea.close()


@pytest.mark.label_studio
def test_pull_writes_the_users_beside_the_export(label_studio, tmp_path):
    conn = label_studio.connection()
    title = f"team users {label_studio.database}"
    ls.push_segments(conn, _rows("users"), "entities", project_title=title)
    (person,) = _people(label_studio, "fay")
    person.close()
    pulled = ls.pull_export(conn, title, out_dir=tmp_path)
    users_path = pulled.export_path.parent / "users.json"
    assert pulled.manifest["users"] == "users.json"
    users = json.loads(users_path.read_text("utf-8"))
    assert users == sorted(users, key=lambda u: u["id"])
    assert all(set(u) == {"id", "username", "email"} for u in users)
    mine = [u for u in users if u["email"] == person.email]
    assert mine == [{"id": person.id, "username": person.email.split("@")[0], "email": person.email}]


def test_meta_line_shows_only_the_parts_that_exist():
    assert meta_line("Reuters", "2024-07-15") == "Reuters · Published: 2024-07-15"
    assert meta_line("", "2024-07-15") == "Published: 2024-07-15"
    assert meta_line("Reuters", None) == "Reuters"
    assert meta_line(None, " ") == ""


def test_context_is_the_neighbouring_segments_of_the_same_article_in_file_order():
    rows = [{"article_id": "a", "text": "A1"}, {"article_id": "a", "text": "A2"}, {"article_id": "b", "text": "B1"},
            {"article_id": "a", "text": "A3", "context_before": "kept"}]
    out = list(with_context(iter(rows)))
    assert [(r["context_before"], r["context_after"]) for r in out] == [("", "A2"), ("A1", ""), ("", ""), ("kept", "")]
    assert "context_before" not in rows[0]  # the input rows are left as they are


@pytest.mark.label_studio
def test_push_gives_each_task_its_context_and_only_the_meta_that_exists(label_studio, tmp_path):
    conn = label_studio.connection()
    title = f"team context {label_studio.database}"
    rows = _rows("ctx")
    rows[1]["date"] = ""
    rows[2]["source"] = "Reuters"
    ls.push_segments(conn, rows, "entities_stance", project_title=title)
    data = [t["data"] for t in ls.list_task_data(conn, title)]
    assert [(d["context_before"], d["context_after"]) for d in data] == [
        ("", TEXTS[1]), (TEXTS[0], TEXTS[2]), (TEXTS[1], "")]
    assert [d["meta"] for d in data] == ["Published: 2024-05-01", "", "Reuters · Published: 2024-05-01"]


DISPUTED = TEXTS[0]  # "Angela Merkel met Emmanuel Macron in Paris."


def _entity(rid: str, word: str, label: str, text: str = DISPUTED) -> dict:
    s = text.index(word)
    return {"id": rid, "from_name": "entity", "to_name": "text", "type": "labels",
            "value": {"start": s, "end": s + len(word), "text": word, "labels": [label]}}


def _stance(rid: str, word: str, label: str, text: str = DISPUTED) -> dict:
    s = text.index(word)
    return {"id": rid, "from_name": "stance", "to_name": "text", "type": "choices",
            "value": {"start": s, "end": s + len(word), "text": word, "choices": [label]}}


def _view_task_ids(label_studio, project_id: int, view_id: int) -> list[int]:
    answer = httpx.get(f"{label_studio.url}/api/tasks", params={"project": project_id, "view": view_id, "fields": "task_only"},
                       headers={"Authorization": f"Token {label_studio.api_key}"}, timeout=60)
    answer.raise_for_status()
    body = answer.json()
    return sorted(t["id"] for t in (body["tasks"] if isinstance(body, dict) else body))


@pytest.mark.label_studio
def test_adjudicate_lists_the_disputes_with_links_and_a_tab_of_exactly_those_tasks(label_studio, tmp_path):
    from dataset_builder.pipeline import adjudicate, team_status

    conn = label_studio.connection()
    title = f"team adjudication {label_studio.database}"
    pid = ls.push_segments(conn, _rows("adj"), "entities_stance", project_title=title, annotators=2).project_id
    tasks = ls.list_task_data(conn, title)
    disputed, agreed = tasks[0]["id"], tasks[1]["id"]
    ann, bea, kim = _people(label_studio, "ann", "bea", "kim")
    try:
        ann.submit(pid, disputed, [_entity("a1", "Angela Merkel", "PER"), _stance("a1", "Angela Merkel", "favor"),
                                   _entity("a2", "Paris", "LOC"), _stance("a2", "Paris", "neutral")])
        bea.submit(pid, disputed, [_entity("b1", "Angela Merkel", "PER"), _stance("b1", "Angela Merkel", "against")])
        for person in (ann, bea):  # they agree on the second task
            person.submit(pid, agreed, [_entity("x", "Kenya", "LOC", TEXTS[1]), _stance("x", "Kenya", "favor", TEXTS[1])])

        first = adjudicate(conn, title, out_dir=tmp_path / "adj", adjudicators=(kim.username,))
        assert [t.task_id for t in first.tasks] == [disputed]
        (task,) = first.tasks
        assert task.link == f"{label_studio.url}/projects/{pid}/data?tab={first.view_id}&task={disputed}"
        assert task.lines() == [
            'entity "Paris" [37, 42) as LOC: marked by 1 of 2 annotators',
            'stance toward "Angela Merkel" [0, 13): against 1, favor 1 (of 2 annotators)',
            'stance toward "Paris" [37, 42): neutral 1 (of 2 annotators)',
        ]
        text = (tmp_path / "adj" / "adjudication.txt").read_text("utf-8")
        assert task.link in text and "{" not in text and "'kind'" not in text  # for a person, no reprs
        assert json.loads((tmp_path / "adj" / "adjudication.json").read_text("utf-8"))["tasks_disputed"] == 1
        assert _view_task_ids(label_studio, pid, first.view_id) == [disputed]
        assert first.view_action == "created"
        again = adjudicate(conn, title, out_dir=tmp_path / "adj2", adjudicators=(kim.username,))
        assert (again.view_id, again.view_action, again.tasks) == (first.view_id, "unchanged", first.tasks)

        status = team_status(conn, title, out_dir=tmp_path / "status", adjudicators=(kim.username,)).to_dict()
        assert (status["tasks"], status["tasks_done"], status["tasks_waiting"], status["items_waiting"]) == (3, 2, 1, 3)
        assert {ann.username, bea.username} == set(status["annotators"])
        assert all(c["annotations"] == 2 for c in status["annotators"].values())

        # the adjudicator decides; the task leaves the tab, which is emptied, not removed
        kim.submit(pid, disputed, [_entity("k1", "Angela Merkel", "PER"), _stance("k1", "Angela Merkel", "favor")])
        after = adjudicate(conn, title, out_dir=tmp_path / "adj3", adjudicators=(kim.username,))
        assert (after.tasks, after.view_id, after.view_action) == ((), first.view_id, "updated")
        assert _view_task_ids(label_studio, pid, first.view_id) == []
        status = team_status(conn, title, out_dir=tmp_path / "status2", adjudicators=(kim.username,)).to_dict()
        assert (status["tasks_waiting"], list(status["adjudicators"])) == (0, [kim.username])
        assert kim.username not in status["annotators"]

        # the commands: a readable table, and --json
        env = {"LABEL_STUDIO_URL": label_studio.url, "LABEL_STUDIO_API_KEY": label_studio.api_key}
        args = ["--project-title", title, "--adjudicator", kim.username]
        table = CliRunner().invoke(cli, ["status", *args, "-o", str(tmp_path / "st")], env=env)
        assert table.exit_code == 0, table.output
        assert "2 of 3 tasks done" in table.output and "0 waiting for adjudication" in table.output
        assert ann.username in table.output and "adjudicator" in table.output and "@" not in table.output
        as_json = CliRunner().invoke(cli, ["status", *args, "--json", "-o", str(tmp_path / "st2")], env=env)
        assert json.loads(as_json.stdout)["tasks_done"] == 2
        listed = CliRunner().invoke(cli, ["adjudicate", *args, "-o", str(tmp_path / "adj4")], env=env)
        assert listed.exit_code == 0 and "Nothing waits for adjudication." in listed.stdout, listed.output
    finally:
        for person in (ann, bea, kim):
            person.close()
