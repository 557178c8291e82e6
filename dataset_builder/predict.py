"""Pre-annotations from the trained baselines: entities and stances with scores, for ``push --predictions``.

Input
    A results folder written by ``benchmark`` (``results.json``, which records the dataset
    fingerprint the models were trained on, and ``models/<config>.<baseline>.skops``), the
    labelling config, and segments: rows of ``segments.jsonl`` or the tasks of a project that are
    not done yet (:func:`remaining_segments`).
Output
    One row per segment, in input order, as ``push --predictions`` takes it::

        {"segment_id", "model_version", "score",
         "entities": [{"start", "end", "label", "score"}],          # code points in the segment text
         "stances": [{"label", "score", "target_start"?, "target_end"?}]}

    ``model_version`` names the baselines and the dataset they were trained on:
    ``ner.crf+stance.tfidf_logreg@<first 12 hex digits of the dataset fingerprint>``.

Scores
    An entity's ``score`` is the mean marginal probability, under the CRF, of the tags it was given
    (forward-backward marginals from sklearn-crfsuite); a stance's is the classifier's probability
    of its label. The task's ``score`` is the model's confidence in the whole task, the *mean
    per-token confidence*: the mean over tokens of the highest marginal tag probability (with
    stances too, the lower of that and the lowest stance probability). Lower means more
    informative. It is a per-token measure on purpose: the cost of annotation is the tokens a
    person reads, and whole-sentence least confidence (1 - P(best tag sequence)) grows with the
    sentence's length, so it spends the budget on long sentences (``benchmarks/active_learning.py``
    compares the two). Label Studio's "Uncertainty sampling" hands out the lowest scores first.

Invariants
    Tokens are the build stage's (:func:`~dataset_builder.build.tokens.tokens_of`: a corpus's own,
    else the one tokeniser), so the model sees what it was trained on. The same models and
    segments give the same rows (scores rounded to 6 digits). A model without marginals (the
    ``memorisation`` and ``majority`` taggers) gives entities without scores and no task score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .baselines import load_model, mark_target, read_results
from .build.tokens import tokens_of
from .errors import InputError
from .jsonl import read_jsonl
from .schema import LabelSchema, load_schema
from .scoring import entities_from_tags

DEFAULT_NER = "crf"
DEFAULT_STANCE = "tfidf_logreg"
ROUND = 6


def _trained_results(results_dir: str | Path) -> dict[str, Any]:
    """``results.json`` of a ``benchmark`` run (:func:`~dataset_builder.baselines.read_results`), which
    must name the data its models were trained on (``dataset_fingerprint``)."""
    path = Path(results_dir) / "results.json"
    results = read_results(path)
    if not isinstance(results.get("dataset_fingerprint"), str):
        raise InputError(f"{path}: no 'dataset_fingerprint'; pass the results.json written by `dataset-builder benchmark`.")
    return results


def model_version_of(results: Mapping[str, Any], models: Sequence[str]) -> str:
    """``ner.crf+stance.tfidf_logreg@<fingerprint[:12]>``: the models and the data they learnt from."""
    return "+".join(models) + "@" + str(results["dataset_fingerprint"])[:12]


@dataclass
class Predictor:
    """The loaded baselines of one results folder and what they predict for a config."""

    schema: LabelSchema
    model_version: str
    ner: Any = None
    stance: Any = None

    def predict(self, rows: Iterable[Mapping[str, Any]], *, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """One predictions row per segment row (``id``, ``text``, optional ``tokens``, target fields)."""
        chunk: list[Mapping[str, Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= batch:
                yield from self._predict_batch(chunk)
                chunk = []
        if chunk:
            yield from self._predict_batch(chunk)

    def _predict_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        texts = [str(r["text"]) for r in rows]
        out = [{"segment_id": str(r["id"]), "model_version": self.model_version} for r in rows]
        confidence: list[list[float]] = [[] for _ in rows]
        if self.ner is not None:
            given = [[tuple(t) for t in r["tokens"]] if r.get("tokens") else None for r in rows]
            for k, (ents, conf) in enumerate(tag_entities(self.ner, texts, given, self.schema.entity_labels)):
                out[k]["entities"] = ents
                if conf is not None:
                    confidence[k].append(conf)
        if self.stance is not None:
            for k, stances in enumerate(self._stances(rows, out)):
                out[k]["stances"] = stances
                confidence[k] += [s["score"] for s in stances]
        for k, conf in enumerate(confidence):
            if conf:
                out[k]["score"] = round(min(conf), ROUND)
        return out

    def _stances(self, rows: Sequence[Mapping[str, Any]], out: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
        """The stance toward each predicted entity (per-region stance) or toward the task's span target."""
        targets: list[list[tuple[int, int]]] = []
        for row, pred in zip(rows, out):
            if self.schema.stance_per_region:
                targets.append([(e["start"], e["end"]) for e in pred.get("entities", ())])
            elif isinstance(row.get("target_start"), int) and isinstance(row.get("target_end"), int):
                targets.append([(row["target_start"], row["target_end"])])
            else:
                targets.append([])  # a given target (text outside the segment) or none: no stance predicted
        # (target, target-marked text, given=False): the rows every stance baseline was trained on
        flat = [(str(row["text"])[s:e], mark_target(str(row["text"]), s, e), False) for row, ts in zip(rows, targets) for s, e in ts]
        if not flat:
            return [[] for _ in rows]
        proba = np.asarray(self.stance.predict_proba(flat))
        classes = [str(c) for c in self.stance.classes_]
        best = proba.argmax(axis=1)
        result: list[list[dict[str, Any]]] = []
        k = 0
        for ts in targets:
            mine = []
            for s, e in ts:
                item: dict[str, Any] = {"label": classes[best[k]], "score": round(float(proba[k, best[k]]), ROUND)}
                if self.schema.stance_per_region:
                    item.update(target_start=s, target_end=e)
                mine.append(item)
                k += 1
            result.append(mine)
        return result


def load_predictor(results_dir: str | Path, config: str | Path | LabelSchema, *, ner: str | None = DEFAULT_NER,
                   stance: str | None = DEFAULT_STANCE) -> Predictor:
    """The baselines ``ner`` and ``stance`` of ``results_dir`` for the config's tasks (None: not that task).

    Raises
    ------
    InputError
        No results.json, or a model the config needs is not in the folder.
    """
    schema = config if isinstance(config, LabelSchema) else load_schema(config)
    results = _trained_results(results_dir)
    models: dict[str, Any] = {}
    names = []
    for task, name, wanted in (("ner", ner, bool(schema.entity_labels)), ("stance", stance, bool(schema.stance_labels))):
        if not wanted or name is None:
            continue
        path = Path(results_dir) / "models" / f"{task}.{name}.skops"
        if not path.is_file():
            raise InputError(f"{path}: no such model; the benchmark of {results_dir} did not train {task} {name!r} "
                             "(run `dataset-builder benchmark` on a dataset with that config, or pick another baseline).")
        models[task] = load_model(path)
        names.append(f"{task}.{name}")
    if not models:
        raise InputError(f"config {schema.name!r}: no baseline chosen for its labels; pass --ner or --stance.")
    return Predictor(schema, model_version_of(results, names), models.get("ner"), models.get("stance"))


def _crf_parts(model: Any) -> tuple[list[Any], Any]:
    """``(the transforms before it, crf)`` when the model ends in a CRF with marginals, else ``([], None)``."""
    steps = getattr(model, "steps", None)
    last = steps[-1][1] if steps else model
    if not hasattr(last, "predict_marginals"):
        return [], None
    return ([step for _, step in steps[:-1]] if steps else []), last


def tag_entities(model: Any, texts: Sequence[str], given: Sequence[Any],
                 labels: Sequence[str]) -> list[tuple[list[dict[str, Any]], float | None]]:
    """Per text: its entities (code points, with a score when the model has marginals) and the
    mean per-token confidence (None without marginals, or for a text without tokens)."""
    batch = tokens_of(texts, given)
    words = batch.tokens.to_pylist()
    offsets = batch.offsets.tolist()
    X = [words[offsets[i]:offsets[i + 1]] for i in range(len(texts))]
    features, crf = _crf_parts(model)
    if crf is not None:
        feats: Any = X
        for step in features:
            feats = step.transform(feats)
        tags = crf.predict(feats)
        marginals = crf.predict_marginals(feats)
    else:
        tags, marginals = model.predict(X), None
    known = set(labels)
    out = []
    for i, seq in enumerate(tags):
        seq = [str(t) for t in seq]
        base = offsets[i]
        probs = None
        if marginals is not None and seq:
            probs = [m[t] for m, t in zip(marginals[i], seq)]
            conf = float(np.mean([max(m.values()) for m in marginals[i]]))
        else:
            conf = None
        ents = []
        for label, ts, te in entities_from_tags(seq) if seq else ():
            if label not in known:
                continue
            ent: dict[str, Any] = {"start": int(batch.starts[base + ts]), "end": int(batch.ends[base + te - 1]), "label": label}
            if probs is not None:
                ent["score"] = round(float(np.mean(probs[ts:te])), ROUND)
            ents.append(ent)
        out.append((ents, None if conf is None else round(conf, ROUND)))
    return out


def segment_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a ``segments.jsonl`` that can be predicted on (``id`` and ``text`` strings)."""
    for lineno, row in read_jsonl(path):
        if not isinstance(row.get("id"), str) or not isinstance(row.get("text"), str):
            raise InputError(f"{path}:{lineno}: segment row without a string 'id' and 'text'; pass the segments.jsonl "
                             "written by 'segment'.")
        yield row


def remaining_segments(tasks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Segment rows of a project's tasks (``{"id", "data"}``) as ``segment`` wrote them, for :meth:`Predictor.predict`."""
    rows = []
    for task in tasks:
        data = task["data"]
        row = {"id": data["segment_id"], "text": data["text"]}
        for key in ("tokens", "target_start", "target_end", "target"):
            if key in data:
                row[key] = data[key]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class PredictReport:
    """What :func:`predict_file` wrote: rows, entities, stances, the model version and the scores' range."""

    path: Path
    model_version: str
    rows: int
    entities: int
    stances: int
    scored: int
    lowest: float | None
    highest: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "model_version": self.model_version, "rows": self.rows,
                "entities": self.entities, "stances": self.stances, "scored": self.scored,
                "score_lowest": self.lowest, "score_highest": self.highest}

    def summary(self) -> str:
        scores = f"; task scores {self.lowest:.4f} .. {self.highest:.4f} (lowest first in the stream)" if self.scored else ""
        return (f"predict: {self.rows} segment(s), {self.entities} entities, {self.stances} stance(s) by "
                f"{self.model_version}{scores} -> {self.path}")


def predict_file(results_dir: str | Path, config: str | Path | LabelSchema, segments: str | Path | Iterable[Mapping[str, Any]],
                 out_path: str | Path, *, ner: str | None = DEFAULT_NER, stance: str | None = DEFAULT_STANCE) -> PredictReport:
    """Predict on ``segments`` (a ``segments.jsonl`` path or rows) and write ``out_path`` (JSONL, one row each)."""
    from .jsonl import write_jsonl

    predictor = load_predictor(results_dir, config, ner=ner, stance=stance)
    rows = segment_rows(segments) if isinstance(segments, (str, Path)) else iter(segments)
    counts = {"rows": 0, "entities": 0, "stances": 0}
    scores: list[float] = []

    def counted(preds: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in preds:
            counts["rows"] += 1
            counts["entities"] += len(p.get("entities", ()))
            counts["stances"] += len(p.get("stances", ()))
            if "score" in p:
                scores.append(p["score"])
            yield p

    write_jsonl(out_path, counted(predictor.predict(rows)))
    return PredictReport(Path(out_path), predictor.model_version, counts["rows"], counts["entities"], counts["stances"],
                         len(scores), min(scores) if scores else None, max(scores) if scores else None)


def predict_project(connection: Any, project_title: str, results_dir: str | Path, config: str | Path | LabelSchema,
                    out_path: str | Path, *, ner: str | None = DEFAULT_NER,
                    stance: str | None = DEFAULT_STANCE) -> PredictReport:
    """Predict on the project's tasks that are not done yet (:func:`~dataset_builder.label_studio.remaining_tasks`)."""
    from . import label_studio

    rows = remaining_segments(label_studio.remaining_tasks(connection, project_title))
    return predict_file(results_dir, config, rows, out_path, ner=ner, stance=stance)
