"""Recapture the bundled sample annotations as a real Label Studio export.

Reads ``data/sample_annotations/annotations.tsv`` (two annotators' entity spans and per-entity
stance on the two bundled articles, written by hand), starts a throw-away local Label Studio,
pushes the sample segments with the ``entities_stance`` config, creates the annotators as users,
submits each annotator's spans + stances through the API as their browser would (the
adjudicator's, on the disputed segments, as ground truth), pulls the
export and writes it to ``data/sample_annotations/export.json`` with ``annotators.json`` (the
user id → e-mail map that ``dataset-builder run`` uses to submit them again as those users).

    .venv/bin/python scripts/make_sample_export.py
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dataset_builder import ingest, label_studio, segment  # noqa: E402
from dataset_builder.schema import load_schema  # noqa: E402

TSV = REPO / "data" / "sample_annotations" / "annotations.tsv"
OUT = REPO / "data" / "sample_annotations"
TITLE = "sample annotations capture"
ADJUDICATOR = "adjudicator"


def read_tsv(path: Path):
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        annotator, file, mention, occurrence, label, stance = line.split("\t")
        rows.append((lineno, annotator, file, mention, int(occurrence), label, None if stance == "-" else stance))
    return rows


def locate(text: str, mention: str, occurrence: int, where: str) -> int:
    hits = [m.start() for m in re.finditer(r"(?<!\w)" + re.escape(mention) + r"(?!\w)", text)]
    if occurrence > len(hits):
        raise SystemExit(f"{where}: {mention!r} occurs {len(hits)} times as a word, not {occurrence}")
    return hits[occurrence - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    articles, _ = ingest.ingest([REPO / "data" / "sample_articles"])
    by_file = {a.meta["source_file"]: a for a in articles}
    segments = [s for a in articles for s in segment.segment_article(a)]
    schema = load_schema("entities_stance")

    # annotator -> segment id -> {"entities": [...], "stances": [...]}
    rows: dict[str, dict[str, dict[str, list]]] = defaultdict(lambda: defaultdict(lambda: {"entities": [], "stances": []}))
    for lineno, annotator, file, mention, occurrence, label, stance in read_tsv(TSV):
        article = by_file[file]
        start = locate(article.text, mention, occurrence, f"{TSV}:{lineno}")
        end = start + len(mention)
        seg = next(s for s in segments if s.article_id == article.id and s.start <= start and end <= s.end)
        row = rows[annotator][seg.id]
        row["entities"].append({"start": start - seg.start, "end": end - seg.start, "label": label})
        if stance is not None:
            row["stances"].append({"target_start": start - seg.start, "target_end": end - seg.start, "label": stance})

    with tempfile.TemporaryDirectory() as tmp:
        server = label_studio.start_server(Path(tmp) / "ls", port=0)
        try:
            conn = server.connection()
            label_studio.push_segments(conn, [s.to_dict() for s in segments], schema, project_title=TITLE)
            users = label_studio.ensure_users(conn, [f"{name}@example.org" for name in sorted(rows)])
            tasks = {t["data"]["segment_id"]: t for t in label_studio.list_task_data(conn, TITLE)}
            texts = {s.id: s.text for s in segments}
            for annotator in sorted(rows):
                user_id = users[f"{annotator}@example.org"]
                # Annotators answer every segment (no entity is an answer too); the adjudicator
                # only the disputed ones, as ground truth.
                adjudicator = annotator == ADJUDICATOR
                for seg_id in sorted(rows[annotator] if adjudicator else texts):
                    result = label_studio.prediction_result(schema, seg_id, texts[seg_id], rows[annotator][seg_id])
                    label_studio.submit_annotation(conn, tasks[seg_id]["id"], result, lead_time=30.0, completed_by=user_id,
                                                   ground_truth=adjudicator)
            pulled = label_studio.pull_export(conn, TITLE, out_dir=Path(tmp) / "exports")
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pulled.export_path, args.out / "export.json")
            (args.out / "annotators.json").write_text(
                json.dumps({str(uid): email for email, uid in sorted(users.items())}, indent=2) + "\n", encoding="utf-8"
            )
            print(f"wrote {args.out / 'export.json'}: {pulled.task_count} tasks, {pulled.annotation_count} annotations")
        finally:
            label_studio.stop_server(Path(tmp) / "ls")


if __name__ == "__main__":
    main()
