#!/usr/bin/env python
"""Capture the Label Studio export fixtures of ``tests/test_normalise.py`` from a real server.

Usage (from the repository root, with the project venv; Label Studio in ``.venv-ls``)::

    .venv/bin/python scripts/capture_fixtures.py            # starts its own server, then stops it
    .venv/bin/python scripts/capture_fixtures.py --url http://127.0.0.1:8091 --api-key ...  # use a running one

What it does, for each bundled config (``entities_stance``, ``entities``, ``target_stance``):

1. creates annotator users (``ann1``..``ann3`` @example.com) and, through ``dataset_builder.label_studio``,
   pushes the scenario's segments as tasks;
2. annotates through the API exactly as declared in :data:`SCENARIOS` (several annotators who
   disagree, a cancelled annotation, a draft, the same annotator twice, a ground-truth
   annotation, emoji / non-BMP text, CRLF text, overlapping and nested spans, collapsed
   ``value.text``, spans with surrounding whitespace, offsets sent as UTF-16 units by one
   "browser", a span whose offsets are shifted but whose text is right);
3. pulls the export with ``dataset_builder.label_studio.pull_export`` and writes it byte-for-byte
   to ``tests/fixtures/exports/<config>.json``, next to ``<config>.expected.json``: what every
   annotator *meant* (code points, written from the scenario, not from normalise) and the gold
   that the stated adjudication rules must give. Tests compare normalise's output to it.

The users and annotations are made with the SDK directly (the package's module does not offer
user management or drafts, which only this script needs). Everything the tests read is the
export file itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dataset_builder import label_studio as lsmod  # noqa: E402
from dataset_builder.schema import load_schema  # noqa: E402

OUT = REPO / "tests" / "fixtures" / "exports"
ANNOTATORS = ("ann1", "ann2", "ann3")
ADJUDICATOR = "admin"  # the server's first user: gives ground truth and drafts

# --------------------------------------------------------------------------------------------
# Scenario. A span is (surface, label) or (surface, label, occurrence) and is located in the
# segment text by the surface string (code points). Per annotation:
#   entities: spans; stances: {surface: label} (per-region: joined to that entity's region);
#   stance: label (task-level stance of target_stance);
#   utf16: send offsets as UTF-16 code units (what a JS string counts) instead of code points;
#   tweak: raw edits of the sent value {surface: {...}} (shift offsets, override value.text, pad);
#   cancelled / ground_truth / draft / twice (a first, different submission by the same user).
# "gold" is what the module docstring's rules must give; "unresolved": True for a tie.
# --------------------------------------------------------------------------------------------

ES = "entities_stance"
SCENARIOS: dict[str, dict[str, Any]] = {
    ES: {
        "segments": [
            {"id": "es-agree", "article_id": "art-1",
             "text": "Angela Merkel met Emmanuel Macron in Berlin on Monday to discuss the EU budget."},
            {"id": "es-emoji", "article_id": "art-2",
             "text": "Fans cheered 😀🎉 as Lionel Messi scored twice for Inter Miami in Florida."},
            {"id": "es-astral", "article_id": "art-2",
             "text": "The 𝕏 post by Elon Musk 🇺🇸 angered the European Commission in Brussels."},
            {"id": "es-crlf", "article_id": "art-3",
             "text": "Reuters reported:\r\nThe European Commission fined Google in Brussels."},
            {"id": "es-nested", "article_id": "art-3",
             "text": "Bank of England governor Andrew Bailey warned  Prime Minister Rishi Sunak."},
            {"id": "es-cancel", "article_id": "art-4",
             "text": "Tesla shares fell after Elon Musk spoke in Austin."},
            {"id": "es-draft-twice", "article_id": "art-4",
             "text": "Microsoft and OpenAI signed a deal in Redmond."},
            {"id": "es-ground-truth", "article_id": "art-5",
             "text": "Greenpeace criticised Shell over the North Sea project."},
            {"id": "es-tie", "article_id": "art-5",
             "text": "Boris Johnson praised the NHS in London."},
            {"id": "es-empty", "article_id": "art-6",
             "text": "It rained all day and nothing else happened."},
            {"id": "es-none", "article_id": "art-6",
             "text": "Nobody annotated this segment about Paris."},
        ],
        "annotations": {
            "es-agree": {
                "ann1": {"entities": [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("EU", "ORG")],
                         "stances": {"Angela Merkel": "neutral", "Emmanuel Macron": "neutral"}},
                "ann2": {"entities": [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("EU", "ORG")],
                         "stances": {"Angela Merkel": "neutral", "Emmanuel Macron": "favor"}},
                "ann3": {"entities": [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC")],
                         "stances": {"Angela Merkel": "neutral", "Emmanuel Macron": "neutral"}},
            },
            "es-emoji": {  # ann2's "browser" counts UTF-16 units: every span after the emoji is off by 2
                "ann1": {"entities": [("Lionel Messi", "PER"), ("Inter Miami", "ORG"), ("Florida", "LOC")],
                         "stances": {"Lionel Messi": "favor"}},
                "ann2": {"entities": [("Lionel Messi", "PER"), ("Inter Miami", "ORG"), ("Florida", "LOC")],
                         "stances": {"Lionel Messi": "favor"}, "utf16": True},
                "ann3": {"entities": [("Lionel Messi", "PER"), ("Inter Miami", "ORG"), ("Florida", "LOC")],
                         "stances": {"Lionel Messi": "favor"}},
            },
            "es-astral": {
                "ann1": {"entities": [("Elon Musk", "PER"), ("European Commission", "ORG"), ("Brussels", "LOC")],
                         "stances": {"Elon Musk": "against"}, "utf16": True},
                "ann2": {"entities": [("Elon Musk", "PER"), ("European Commission", "ORG"), ("Brussels", "LOC")],
                         "stances": {"Elon Musk": "against"}},
                "ann3": {"entities": [("Elon Musk", "PER"), ("European Commission", "ORG")],
                         "stances": {"Elon Musk": "neutral"}},
            },
            "es-crlf": {  # ann3's offsets are one short per CRLF (a DOM that turned \r\n into \n); value.text is right
                "ann1": {"entities": [("Reuters", "ORG"), ("European Commission", "ORG"), ("Google", "ORG"), ("Brussels", "LOC")],
                         "stances": {"Google": "against"}},
                "ann2": {"entities": [("Reuters", "ORG"), ("European Commission", "ORG"), ("Google", "ORG"), ("Brussels", "LOC")],
                         "stances": {"Google": "against"}},
                "ann3": {"entities": [("Reuters", "ORG"), ("European Commission", "ORG"), ("Google", "ORG"), ("Brussels", "LOC")],
                         "stances": {"Google": "neutral"},
                         "tweak": {"European Commission": {"shift": -1}, "Google": {"shift": -1}, "Brussels": {"shift": -1}}},
            },
            "es-nested": {  # overlapping/nested spans; collapsed value.text; a span sent with a trailing space
                "ann1": {"entities": [("Bank of England", "ORG"), ("England", "LOC"), ("Andrew Bailey", "PER"),
                                      ("Prime Minister Rishi Sunak", "PER")],
                         "stances": {"Andrew Bailey": "neutral"},
                         "tweak": {"Andrew Bailey": {"pad_right": 1}}},
                "ann2": {"entities": [("Bank of England", "ORG"), ("England", "LOC"), ("Andrew Bailey", "PER"),
                                      ("Rishi Sunak", "PER")],
                         "stances": {"Andrew Bailey": "neutral"}},
                "ann3": {"entities": [("Bank of England", "ORG"), ("Andrew Bailey", "PER"), ("Rishi Sunak", "PER"),
                                      ("warned  Prime", "MISC")],
                         "stances": {"Andrew Bailey": "neutral"},
                         "tweak": {"warned  Prime": {"text": "warned Prime"}}},
            },
            "es-cancel": {
                "ann1": {"entities": [("Tesla", "ORG"), ("Elon Musk", "PER"), ("Austin", "LOC")],
                         "stances": {"Elon Musk": "neutral"}},
                "ann2": {"entities": [("Tesla", "ORG"), ("Elon Musk", "PER"), ("Austin", "LOC")],
                         "stances": {"Elon Musk": "neutral"}},
                "ann3": {"cancelled": True, "entities": [("Tesla", "ORG")]},
            },
            "es-draft-twice": {
                "ann1": {"entities": [("Microsoft", "ORG"), ("OpenAI", "ORG"), ("Redmond", "LOC")],
                         "stances": {"OpenAI": "favor"}},
                "ann2": {"entities": [("Microsoft", "ORG"), ("OpenAI", "ORG"), ("Redmond", "LOC")],
                         "stances": {"OpenAI": "favor"},
                         "twice": {"entities": [("Microsoft", "PER")], "stances": {}}},
                "admin": {"draft": True, "entities": [("Redmond", "MISC")]},
            },
            "es-ground-truth": {
                "ann1": {"entities": [("Greenpeace", "ORG"), ("Shell", "ORG"), ("North Sea", "LOC")],
                         "stances": {"Shell": "against"}},
                "ann2": {"entities": [("Greenpeace", "ORG"), ("Shell", "ORG")], "stances": {"Shell": "neutral"}},
                "admin": {"ground_truth": True,
                          "entities": [("Greenpeace", "ORG"), ("Shell", "ORG"), ("North Sea", "LOC")],
                          "stances": {"Shell": "against", "Greenpeace": "neutral"}},
            },
            "es-tie": {
                "ann1": {"entities": [("Boris Johnson", "PER"), ("NHS", "ORG"), ("London", "LOC")],
                         "stances": {"NHS": "favor"}},
                "ann2": {"entities": [("Boris Johnson", "PER"), ("NHS", "ORG"), ("London", "LOC")],
                         "stances": {"NHS": "neutral"}},
            },
            "es-empty": {
                "ann1": {"entities": []},
                "ann2": {"entities": []},
            },
        },
        "gold": {
            "es-agree": {"entities": [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Berlin", "LOC"), ("EU", "ORG")],
                         "stances": {"Angela Merkel": "neutral", "Emmanuel Macron": "neutral"}},
            "es-emoji": {"entities": [("Lionel Messi", "PER"), ("Inter Miami", "ORG"), ("Florida", "LOC")],
                         "stances": {"Lionel Messi": "favor"}},
            "es-astral": {"entities": [("Elon Musk", "PER"), ("European Commission", "ORG"), ("Brussels", "LOC")],
                          "stances": {"Elon Musk": "against"}},
            "es-crlf": {"entities": [("Reuters", "ORG"), ("European Commission", "ORG"), ("Google", "ORG"), ("Brussels", "LOC")],
                        "stances": {"Google": "against"}},
            "es-nested": {"entities": [("Bank of England", "ORG"), ("England", "LOC"), ("Andrew Bailey", "PER"),
                                       ("Rishi Sunak", "PER")],
                          "stances": {"Andrew Bailey": "neutral"}},
            "es-cancel": {"entities": [("Tesla", "ORG"), ("Elon Musk", "PER"), ("Austin", "LOC")],
                          "stances": {"Elon Musk": "neutral"}},
            "es-draft-twice": {"entities": [("Microsoft", "ORG"), ("OpenAI", "ORG"), ("Redmond", "LOC")],
                               "stances": {"OpenAI": "favor"}},
            "es-ground-truth": {"entities": [("Greenpeace", "ORG"), ("Shell", "ORG"), ("North Sea", "LOC")],
                                "stances": {"Shell": "against", "Greenpeace": "neutral"}},
            "es-tie": {"unresolved": True},
            "es-empty": {"entities": [], "stances": {}},
            "es-none": {"no_annotations": True},
        },
    },
    "entities": {
        "segments": [
            {"id": "en-emoji", "article_id": "art-7", "text": "👍 Pope Francis visited Lampedusa 🇮🇹 with Caritas."},
            {"id": "en-two", "article_id": "art-7", "text": "Apple sued Samsung in California."},
        ],
        "annotations": {
            "en-emoji": {
                "ann1": {"entities": [("Pope Francis", "PER"), ("Lampedusa", "LOC"), ("Caritas", "ORG")]},
                "ann2": {"entities": [("Pope Francis", "PER"), ("Lampedusa", "LOC"), ("Caritas", "ORG")], "utf16": True},
                "ann3": {"entities": [("Francis", "PER"), ("Lampedusa", "LOC"), ("Caritas", "ORG")]},
            },
            "en-two": {
                "ann1": {"entities": [("Apple", "ORG"), ("Samsung", "ORG"), ("California", "LOC")]},
                "ann2": {"entities": [("Apple", "ORG"), ("Samsung", "ORG"), ("California", "LOC")]},
            },
        },
        "gold": {
            "en-emoji": {"entities": [("Pope Francis", "PER"), ("Lampedusa", "LOC"), ("Caritas", "ORG")], "stances": {}},
            "en-two": {"entities": [("Apple", "ORG"), ("Samsung", "ORG"), ("California", "LOC")], "stances": {}},
        },
    },
    "target_stance": {
        "segments": [
            {"id": "ts-1", "article_id": "art-8", "text": "Critics say 😠 the Federal Reserve moved too slowly.",
             "target": "Federal Reserve"},
            {"id": "ts-2", "article_id": "art-8", "text": "Supporters welcomed the new Greta Thunberg campaign.",
             "target": "Greta Thunberg"},
        ],
        "annotations": {
            "ts-1": {
                "ann1": {"stance": "against", "keep_target_region": True},
                "ann2": {"stance": "against"},
                "ann3": {"stance": "neutral"},
            },
            "ts-2": {
                "ann1": {"stance": "favor"},
                "ann2": {"stance": "favor", "keep_target_region": True},
                "ann3": {"cancelled": True},
            },
        },
        "gold": {
            "ts-1": {"entities": [], "stances": {"Federal Reserve": "against"}},
            "ts-2": {"entities": [], "stances": {"Greta Thunberg": "favor"}},
        },
    },
}


def locate(text: str, surface: str, occurrence: int = 0) -> tuple[int, int]:
    """Code point offsets of the ``occurrence``-th ``surface`` in ``text``."""
    pos = -1
    for _ in range(occurrence + 1):
        pos = text.index(surface, pos + 1)
    return pos, pos + len(surface)


def u16(text: str, cp: int) -> int:
    return len(text[:cp].encode("utf-16-le")) // 2


def build_result(schema, text: str, spec: dict[str, Any], rid_prefix: str, target: tuple[int, int] | None) -> list[dict]:
    """Label Studio ``result`` items for one declared annotation (what a browser would submit)."""
    out: list[dict[str, Any]] = []
    region_of: dict[str, str] = {}
    tweaks = spec.get("tweak", {})
    for i, ent in enumerate(spec.get("entities", [])):
        surface, label = ent[0], ent[1]
        s, e = locate(text, surface, ent[2] if len(ent) > 2 else 0)
        tw = tweaks.get(surface, {})
        e += tw.get("pad_right", 0)
        s += tw.get("shift", 0)
        e += tw.get("shift", 0)
        vtext = tw.get("text", text[s - tw.get("shift", 0): e - tw.get("shift", 0)])
        if spec.get("utf16"):
            s, e = u16(text, s), u16(text, e)
        rid = f"{rid_prefix}{i}"
        region_of[surface] = rid
        out.append({"id": rid, "from_name": schema.entity_from_name, "to_name": schema.to_name, "type": "labels",
                    "origin": "manual", "value": {"start": s, "end": e, "text": vtext, "labels": [label]}})
    for surface, label in spec.get("stances", {}).items():
        base = next(r for r in out if r["id"] == region_of[surface])
        out.append({"id": region_of[surface], "from_name": schema.stance_from_name, "to_name": schema.to_name,
                    "type": "choices", "origin": "manual",
                    "value": {"start": base["value"]["start"], "end": base["value"]["end"],
                              "text": base["value"]["text"], "choices": [label]}})
    if "stance" in spec:
        out.append({"id": f"{rid_prefix}st", "from_name": schema.stance_from_name, "to_name": schema.to_name,
                    "type": "choices", "origin": "manual", "value": {"choices": [spec["stance"]]}})
    if spec.get("keep_target_region") and target is not None:
        s, e = target
        out.append({"id": f"{rid_prefix}tg", "from_name": schema.target_from_name, "to_name": schema.to_name,
                    "type": "labels", "origin": "prediction",
                    "value": {"start": u16(text, s), "end": u16(text, e), "text": text[s:e], "labels": ["TARGET"]}})
    return out


def intended(text: str, spec: dict[str, Any], target: tuple[int, int] | None) -> dict[str, Any]:
    """What the annotator meant, in code points (trimmed, as the rules state)."""
    ents = []
    for ent in spec.get("entities", []):
        s, e = locate(text, ent[0], ent[2] if len(ent) > 2 else 0)
        ents.append({"start": s, "end": e, "label": ent[1], "text": text[s:e]})
    stances = []
    for surface, label in spec.get("stances", {}).items():
        s, e = locate(text, surface)
        stances.append({"target_start": s, "target_end": e, "target_text": text[s:e], "label": label})
    if "stance" in spec and target is not None:
        s, e = target
        stances.append({"target_start": s, "target_end": e, "target_text": text[s:e], "label": spec["stance"]})
    ents.sort(key=lambda d: (d["start"], d["end"], d["label"]))
    stances.sort(key=lambda d: (d["target_start"], d["target_end"], d["label"]))
    return {"entities": ents, "stances": stances}


def capture(conn: lsmod.Connection, client: Any, users: dict[str, int], config: str, stamp: str) -> None:
    import httpx

    scen = SCENARIOS[config]
    schema = load_schema(config)
    title = f"fixtures {config} {stamp}"
    rows = []
    for seg in scen["segments"]:
        row = {"id": seg["id"], "article_id": seg["article_id"], "index": len(rows), "start": 0,
               "end": len(seg["text"]), "text": seg["text"], "unit": "sentence", "title": "Fixture", "date": "2024-01-01"}
        if "target" in seg:
            s, e = locate(seg["text"], seg["target"])
            row.update({"target": seg["target"], "target_start": s, "target_end": e})
        rows.append(row)
    rep = lsmod.push_segments(conn, rows, schema, project_title=title)
    if rep.imported != len(rows):
        raise SystemExit(f"push imported {rep.imported} of {len(rows)}: {rep.rejections}")
    tasks = {t["data"]["segment_id"]: t for t in lsmod.list_task_data(conn, title)}
    expected: dict[str, Any] = {"config": config, "users": dict(sorted(users.items())), "tasks": {}}
    for seg in scen["segments"]:
        sid, text = seg["id"], seg["text"]
        task_id = tasks[sid]["id"]
        target = locate(text, seg["target"]) if "target" in seg else None
        exp_ann: dict[str, Any] = {}
        for k, (who, spec) in enumerate(scen["annotations"].get(sid, {}).items()):
            uid = users[who]
            if "twice" in spec:  # an earlier, different submission by the same annotator
                first = build_result(schema, text, spec["twice"], f"{sid}-{who}-first-", target)
                client.annotations.create(id=task_id, result=first, completed_by=uid, lead_time=4.0)
                time.sleep(1.1)  # updated_at must differ
            result = build_result(schema, text, spec, f"{sid}-{who}-", target)
            if spec.get("draft"):
                r = httpx.post(f"{conn.url}/api/tasks/{task_id}/drafts", headers={"Authorization": f"Token {conn.api_key}"},
                               json={"result": result, "lead_time": 2.0}, timeout=30)
                r.raise_for_status()
                continue
            client.annotations.create(
                id=task_id, result=result, completed_by=uid, lead_time=float(5 + 3 * k),
                was_cancelled=bool(spec.get("cancelled")), ground_truth=bool(spec.get("ground_truth")),
            )
            if not spec.get("cancelled"):
                exp_ann[str(uid)] = intended(text, spec, target)
        gold = scen["gold"].get(sid, {})
        exp_gold: Any
        if gold.get("unresolved") or gold.get("no_annotations"):
            exp_gold = None
        else:
            exp_gold = intended(text, gold, target)
        expected["tasks"][sid] = {"task_id": task_id, "annotators": exp_ann, "gold": exp_gold,
                                  "unresolved": bool(gold.get("unresolved")),
                                  "no_annotations": bool(gold.get("no_annotations"))}
    with tempfile.TemporaryDirectory() as tmp:
        pulled = lsmod.pull_export(conn, title, out_dir=tmp)
        OUT.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pulled.export_path, OUT / f"{config}.json")
    (OUT / f"{config}.expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    print(f"{config}: {len(rows)} tasks -> {OUT / (config + '.json')}")


BAD = REPO / "tests" / "fixtures" / "bad_exports"


def write_bad_exports() -> None:
    """Other formats and broken files, made from the captured ``entities_stance`` export.

    JSON_MIN, CSV and CONLL2003 come from ``label_studio_sdk.converter`` (what Label Studio itself
    uses for those export types); the others are the real export cut or re-wrapped.
    """
    from label_studio_sdk.converter import Converter

    src = OUT / f"{ES}.json"
    raw = src.read_bytes()
    BAD.mkdir(parents=True, exist_ok=True)
    conv = Converter(config=load_schema(ES).xml, project_dir=None)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, method, produced, kw in (("json_min.json", conv.convert_to_json_min, "result.json", {}),
                                          ("export.csv", conv.convert_to_csv, "result.csv", {"sep": ","}),
                                          ("export.tsv", conv.convert_to_csv, "result.csv", {"sep": "\t"}),
                                          ("export.conll", conv.convert_to_conll2003, "result.conll", {})):
            out = Path(tmp) / fmt.replace(".", "_")
            method(str(src), str(out), is_dir=False, **kw)
            shutil.copyfile(out / produced, BAD / fmt)
    (BAD / "truncated.json").write_bytes(raw[: len(raw) // 2])
    tasks = json.loads(raw)
    (BAD / "single_task.json").write_text(json.dumps(tasks[0], ensure_ascii=False), encoding="utf-8")
    (BAD / "empty.json").write_bytes(b"")
    (BAD / "numbers.json").write_bytes(b"[1, 2, 3]")
    (BAD / "latin1.json").write_bytes(raw.replace(b"Angela", "Ángela".encode("latin-1")))  # not UTF-8
    print(f"bad exports -> {BAD}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="use a running Label Studio (default: start one in a temp folder)")
    ap.add_argument("--api-key", help="its API key (with --url)")
    ap.add_argument("--configs", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--bad-exports-only", action="store_true",
                    help="only rewrite tests/fixtures/bad_exports from the captured exports (no server)")
    args = ap.parse_args()
    if args.bad_exports_only:
        write_bad_exports()
        return
    from label_studio_sdk import LabelStudio

    tmp = None
    data_dir = None
    if args.url:
        conn = lsmod.Connection(url=args.url, api_key=args.api_key or "", source="--url")
    else:
        tmp = tempfile.mkdtemp(prefix="capture-ls-")
        data_dir = Path(tmp) / "ls"
        conn = lsmod.start_server(data_dir, port=lsmod.free_port(), timeout=240).connection()
    try:
        client = LabelStudio(base_url=conn.url, api_key=conn.api_key)
        me = client.users.whoami()
        users = {ADJUDICATOR: me.id}
        existing = {u.email: u.id for u in client.users.list()}
        for name in ANNOTATORS:
            email = f"{name}@example.com"
            users[name] = existing.get(email) or client.users.create(email=email, username=name, first_name=name).id
        stamp = time.strftime("%Y%m%d%H%M%S")
        for config in args.configs:
            capture(conn, client, users, config, stamp)
        write_bad_exports()
    finally:
        if data_dir is not None:
            lsmod.stop_server(data_dir, grace=10.0)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
