"""The push's task spool: what goes in comes back, byte for byte and as the same JSON value."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder.label_studio.spool import TaskSpool, json_list, task_json

texts = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
tasks = st.fixed_dictionaries({"data": st.fixed_dictionaries({"text": texts, "context_before": texts,
                                                              "n": st.integers(-10**6, 10**6)}),
                               "predictions": st.lists(st.fixed_dictionaries({"score": st.floats(0, 1)}), max_size=2)})


@settings(max_examples=60, deadline=None)
@given(st.lists(tasks, min_size=1, max_size=12))
def test_spooled_tasks_come_back_as_they_went_in_in_any_order(items):
    with TaskSpool() as spool:
        numbers = [spool.add(t) for t in items]
        assert numbers == list(range(len(items))) and len(spool) == len(items)
        for k in reversed(numbers):  # read back out of order: each task is found by its own offset
            assert spool.task(k) == items[k]
            assert spool.body(k) == task_json(items[k])
        assert json.loads(json_list(spool.body(k) for k in numbers)) == items


def test_task_json_is_ascii_and_keeps_astral_characters_and_lone_surrogates():
    task = {"data": {"text": "Adébáyọ̀ 👨‍👩‍👧 \ud800 नरेन्द्र"}}
    body = task_json(task)
    assert body.isascii() and body.startswith(b"{\"data\":{\"text\":\"")  # compact separators
    assert json.loads(body) == task
    assert json.loads(json_list([])) == []
