"""Baselines for the built dataset, scored by :mod:`dataset_builder.scoring`.

Input
    A dataset folder written by ``build`` (configs ``ner`` and ``stance``, splits ``train`` and
    ``test``).

Output
    Under ``output_dir``: ``models/<config>.<baseline>.skops`` (saved with ``skops``, never
    pickle), ``predictions/<config>.<baseline>.jsonl`` (the scorer's predictions format),
    ``results.json`` (every baseline's score report) and ``leaderboard.md``.

Baselines (all scikit-learn estimators, fixed seeds, deterministic):

* stance ``majority``: ``DummyClassifier(strategy="most_frequent")``.
* stance ``tfidf_logreg`` (:mod:`.stance`): TF-IDF of word 1-2-grams and character 2-5-grams
  (``char_wb``), each capped at ``max_features``, and a logistic regression (balanced class
  weights, C = 10). A span target is marked in the text (:func:`mark_target`) and the rows go to
  scikit-learn's ``LogisticRegression`` as they are; a given target outside the text (a headline)
  is featurised as its own block beside the text's, each distinct text and target once, and the
  same loss is minimised on that factored design (:class:`~.stance.TfidfLogReg`).
* stance ``pair_relation`` and ``per_target_svm`` (:mod:`.pairs`): the relation of target and
  text (the FNC-1 baseline's features, the TF-IDF cosine and a word model of the target) with
  gradient-boosted trees; one linear SVM per target on word 1-3 and char 2-5 n-grams (SemEval-2016's
  organisers' baseline), its probabilities the softmax of its margins.
* NER ``majority``: the most frequent training tag for every token (``DummyClassifier``); it
  predicts no entity and marks the floor.
* NER ``memorisation``: the most frequent training tag of each token string (exact, then
  lowercased), ``O`` for unseen tokens; its I- tags without a B- are read by conlleval's rules.
* NER ``crf``: a linear-chain CRF (``sklearn-crfsuite``, L-BFGS until :data:`CRF_STOPPING` holds)
  on hand-made token features (:func:`sentence_features`: the word as written and lower-cased,
  shape and short shape, prefixes and suffixes of 2-4 characters, casing, digit, punctuation and
  hyphen flags, the words, short shapes and casing of the neighbours in a +-2 window, short-shape
  bigrams with each neighbour, BOS/EOS, all-caps headlines, and the tokens of a place name from
  GeoNames' countries, cities of 15,000+, US states and continents, :func:`place_names`, the
  gazetteer kept in the fitted model), as a ``Pipeline``. It is trained on
  BIOES tags (:data:`CRF_TAG_ENCODING`, :class:`TagEncodingCRF`) and predicts BIO tags and BIO
  marginals (those of S-/E- summed into B-/I-). Its L1/L2 penalties
  (c1, c2) are chosen from :data:`CRF_GRID` by entity micro F1 on the validation split when the
  config has one (:func:`tune_crf`: searched on a third of a large training split with a looser
  stopping rule, then the winner fitted on all of it; the search is recorded as ``tuning`` in
  ``results.json``), else :data:`CRF_DEFAULT`.

Invariants
    Same dataset, seed and options give byte-identical predictions, ``results.json`` and
    ``leaderboard.md`` (the ``.skops`` archives hold zip timestamps, so they are not compared).
    Models are trained on ``train_split`` only (the validation split only chooses the CRF's c1/c2)
    and scored on ``eval_split``. Equal scores share a
    rank (1, 1, 3); an undefined score (null) is listed last without a rank; an evaluation split of
    fewer than :data:`~dataset_builder.scoring.MIN_CI_ARTICLES` articles gets a warning in
    ``results.json`` and the leaderboard: too small to rank baselines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..errors import InputError
from ..jsonl import read_json_object, write_jsonl
from .ner import (  # noqa: F401  (public names of the baselines package)
    FEATURES_VERSION,
    CRF_DEFAULT,
    CRF_GRID,
    CRF_SEARCH_EVERY,
    CRF_SEARCH_MIN_SENTENCES,
    CRF_SEARCH_STOPPING,
    CRF_STOPPING,
    CRF_TAG_ENCODING,
    PARALLEL_MIN_TOKENS,
    MemorisationTagger,
    TagEncodingCRF,
    TokenDummyTagger,
    TokenFeaturizer,
    bio_to_bioes,
    bioes_marginals_to_bio,
    bioes_to_bio,
    crf_training,
    gazetteer_marks,
    make_crf,
    place_names,
    sentence_features,
    token_features,
    tune_crf,
    word_shape,
)
from .pairs import DEFAULT_MAX_FEATURES, PerTargetSVM, make_pair_relation
from .persist import LEGACY_TYPES, TRUSTED_TYPES, load_model, save_model  # noqa: F401
from .stance import TARGET_CLOSE, TARGET_OPEN, _joined, make_tfidf_logreg, mark_target  # noqa: F401
from ..scoring import (
    CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    SCORER_VERSION,
    dataset_fingerprint,
    format_metric,
    too_few_articles,
    dataset_version,
    load_split,
    score_predictions,
)

BASELINES: dict[str, tuple[str, ...]] = {
    "stance": ("majority", "tfidf_logreg", "pair_relation", "per_target_svm"),
    "ner": ("majority", "memorisation", "crf"),
}
DESCRIPTIONS = {
    ("stance", "majority"): "DummyClassifier(most_frequent)",
    ("stance", "tfidf_logreg"): "target-marked text, TF-IDF word 1-2 + char 2-5 grams, LogisticRegression",
    ("stance", "pair_relation"): "FNC-1 baseline features (overlaps, n-gram hits, refuting words) + TF-IDF cosine, gradient-boosted trees",
    ("stance", "per_target_svm"): "one LinearSVC per target, word 1-3 + char 2-5 grams (SemEval-2016 baseline)",
    ("ner", "majority"): "DummyClassifier(most_frequent) per token",
    ("ner", "memorisation"): "most frequent training tag per token",
    ("ner", "crf"): "CRF (sklearn-crfsuite, L-BFGS to convergence, trained on BIOES tags) on word, shape, affix, case, +-2 window and GeoNames place-name features; c1/c2 tuned on validation",
}


# --------------------------------------------------------------------------- models


def make_model(task: str, name: str, *, seed: int = DEFAULT_SEED, max_features: int | None = DEFAULT_MAX_FEATURES):
    """An unfitted baseline estimator (see the module docstring); ``max_features`` caps each n-gram block."""
    if task == "stance" and name == "majority":
        from sklearn.dummy import DummyClassifier
        from sklearn.pipeline import Pipeline

        return Pipeline([("majority", DummyClassifier(strategy="most_frequent", random_state=seed))])
    if task == "stance" and name == "tfidf_logreg":
        return make_tfidf_logreg(seed=seed, max_features=max_features)
    if task == "stance" and name == "pair_relation":
        return make_pair_relation(seed=seed, max_features=max_features or DEFAULT_MAX_FEATURES)
    if task == "stance" and name == "per_target_svm":
        return PerTargetSVM(seed=seed, max_features=max_features or DEFAULT_MAX_FEATURES)
    if task == "ner" and name == "majority":
        return TokenDummyTagger(seed=seed)
    if task == "ner" and name == "memorisation":
        return MemorisationTagger()
    if task == "ner" and name == "crf":
        return make_crf(*CRF_DEFAULT)
    raise ValueError(f"The 'name' parameter must be one of {list(BASELINES.get(task, ()))} for task {task!r}. Got {name!r} instead.")



# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _TaskData:
    ids: list[str]
    X: list[Any]
    y: list[Any]


def _stance_data(dataset) -> _TaskData:
    """``(target, text, given)`` rows: a span target marked in the text (:func:`mark_target`), a given one beside it."""
    names = dataset.features["label"].names
    columns = [c for c in ("id", "text", "target", "target_start", "target_end", "label") if c in dataset.column_names]
    rows = dataset.select_columns(columns).to_dict()
    shared: dict[str, str] = {}  # one string per distinct text and target (FNC-1: a body in some 30 rows)
    texts = [shared.setdefault(t, t) for t in rows.pop("text")]
    targets = [shared.setdefault(t, t) for t in rows.pop("target")]
    if "target_start" in rows:
        X = [(g, mark_target(t, s, e), False)
             for g, t, s, e in zip(targets, texts, rows["target_start"], rows["target_end"])]
    else:
        X = [(g, t, True) for g, t in zip(targets, texts)]
    y = [names[i] for i in rows["label"]]
    return _TaskData(ids=list(rows["id"]), X=X, y=y)


def _ner_data(dataset) -> _TaskData:
    feature = dataset.features["ner_tags"]
    names = getattr(feature, "feature", feature).names
    rows = dataset.to_dict()
    y = [[names[i] for i in tags] for tags in rows["ner_tags"]]
    return _TaskData(ids=list(rows["id"]), X=[list(t) for t in rows["tokens"]], y=y)


# --------------------------------------------------------------------------- benchmark


def run_benchmark(
    dataset_dir: str | Path,
    output_dir: str | Path,
    *,
    configs: Sequence[str] | None = None,
    train_split: str = "train",
    eval_split: str = "test",
    tune_split: str | None = "validation",
    seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES,
    baselines: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
    max_features: int | None = DEFAULT_MAX_FEATURES,
) -> dict[str, Any]:
    """Train every baseline, write models and predictions, score them, write the leaderboard.

    Parameters
    ----------
    dataset_dir : the built dataset folder.
    output_dir : where ``models/``, ``predictions/``, ``results.json``, ``leaderboard.md`` go.
    configs : dataset configs to run (``"ner"``, ``"stance"``); default: those of
        :data:`BASELINES` that have a folder in ``dataset_dir``.
    train_split, eval_split : the split to train on and the split to score on.
    tune_split : the split the ``crf`` baseline's c1/c2 are chosen on (:func:`tune_crf`), when the
        config has it and it is neither of the other two; ``None``: no tuning.
    seed, resamples : seed of the models and of the bootstrap; bootstrap resamples.
    baselines : per config, the baselines to run (default :data:`BASELINES`); ``max_features`` caps their n-grams.
    progress : optional wrapper over the work list (a tqdm), called once.

    Returns
    -------
    dict
        The results (also written to ``results.json``).
    """
    dataset_dir, output_dir = Path(dataset_dir), Path(output_dir)
    fingerprint = dataset_fingerprint(dataset_dir)
    chosen = dict(BASELINES if baselines is None else baselines)
    if configs is None:
        configs = [c for c in chosen if (dataset_dir / c).is_dir()]
        if not configs:
            raise InputError(f"{dataset_dir}: no config folder among {sorted(chosen)}; build the dataset first.")
    work = []
    for config in configs:
        if config not in chosen:
            raise InputError(f"no baselines for config {config!r}; expected one of {sorted(chosen)}.")
        for name in chosen[config]:
            work.append((config, name))
    entries = []
    loaded: dict[str, tuple[str, _TaskData, _TaskData]] = {}
    for config, name in progress(work) if progress else work:
        if config not in loaded:
            from ..scoring import task_of

            train = load_split(dataset_dir, config, train_split)
            test = load_split(dataset_dir, config, eval_split)
            task = task_of(train)
            for split, part in ((train_split, train), (eval_split, test)):
                if len(part) == 0:
                    raise InputError(
                        f"{dataset_dir}: config {config!r} split {split!r} has no rows; annotate more articles or pick "
                        "other splits (--train-split/--eval-split)."
                    )
            prep = _ner_data if task == "ner" else _stance_data
            tune = _tuning_split(dataset_dir, config, tune_split, (train_split, eval_split)) if task == "ner" else None
            loaded[config] = (task, prep(train), prep(test), prep(tune) if tune is not None else None)
        task, train_data, test_data, tune_data = loaded[config]
        if task == "stance" and name != "majority" and len(set(train_data.y)) < 2:
            raise InputError(
                f"{dataset_dir}: config {config!r} split {train_split!r} has one class only ({train_data.y[0]!r}); "
                f"{name} needs at least two. Annotate more varied examples or run --config ner only."
            )
        tuning = None
        if task == "ner" and name == "crf":
            model, tuning = tune_crf((train_data.X, train_data.y), (tune_data.X, tune_data.y) if tune_data else None)
            tuning = {"split": tune_split if tune_data else None, **tuning}
        else:
            model = make_model(task, name, seed=seed, max_features=max_features)
            model.fit(train_data.X, train_data.y)
        predicted = model.predict(test_data.X)
        stem = f"{config}.{name}"
        pred_path = output_dir / "predictions" / f"{stem}.jsonl"
        if task == "ner":
            rows = ({"id": i, "tags": [str(t) for t in tags]} for i, tags in zip(test_data.ids, predicted))
        else:
            rows = ({"id": i, "label": str(label)} for i, label in zip(test_data.ids, predicted))
        write_jsonl(pred_path, rows)
        model_path = output_dir / "models" / f"{stem}.skops"
        save_model(model, model_path)
        report = score_predictions(dataset_dir, pred_path, config=config, split=eval_split, resamples=resamples, seed=seed)
        primary = report["primary_metric"]
        ci = report["ci"].get("micro", {}).get("f1") if task == "ner" else report["ci"].get(primary)
        entries.append({
            "config": config,
            "task": task,
            "baseline": name,
            "description": DESCRIPTIONS.get((task, name), name),
            "primary_metric": primary,
            "score": report["primary_value"],
            "ci": ci or [],
            **({"ci_note": report["bootstrap"]["ci_note"]} if "ci_note" in report["bootstrap"] else {}),
            "predictions": pred_path.relative_to(output_dir).as_posix(),
            "model": model_path.relative_to(output_dir).as_posix(),
            "report": {k: v for k, v in report.items() if k not in ("dataset_fingerprint", "dataset_version", "scorer_version")},
            **({"tuning": tuning} if tuning is not None else {}),
        })
    results = {
        "scorer_version": SCORER_VERSION,
        "dataset_version": dataset_version(dataset_dir),
        "dataset_fingerprint": fingerprint,
        "train_split": train_split,
        "eval_split": eval_split,
        "seed": seed,
        "resamples": resamples,
        "confidence": CONFIDENCE,
        "warnings": _small_split_warnings(entries, eval_split),
        "baselines": entries,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(results_to_json(results), encoding="utf-8")
    (output_dir / "leaderboard.md").write_text(leaderboard_markdown(results), encoding="utf-8")
    return results


def chosen_baselines(names: str | Sequence[str] | None) -> dict[str, tuple[str, ...]] | None:
    """``"majority,pair_relation"`` -> the baselines of each config (:data:`BASELINES` order); None: all.

    Raises
    ------
    InputError
        A name that is no baseline of any config.
    """
    if names is None:
        return None
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    known = {n for ns in BASELINES.values() for n in ns}
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        raise InputError(f"--baselines: unknown baseline(s) {', '.join(unknown) or '(none given)'}; choose among "
                         f"{', '.join(sorted(known))}.")
    return {config: tuple(n for n in ns if n in wanted) for config, ns in BASELINES.items()}


def _tuning_split(dataset_dir: Path, config: str, split: str | None, others: Sequence[str]):
    """The tuning split of ``config`` when it exists, has rows and is not one of ``others``; else None."""
    if split is None or split in others:
        return None
    if not (dataset_dir / config / f"{split}.parquet").is_file():
        try:
            part = load_split(dataset_dir, config, split)
        except InputError:
            return None
    else:
        part = load_split(dataset_dir, config, split)
    return part if len(part) else None


def _small_split_warnings(entries: Sequence[Mapping[str, Any]], eval_split: str) -> list[str]:
    """One warning per config whose evaluation split has too few articles to rank baselines."""
    warnings = []
    for config in dict.fromkeys(e["config"] for e in entries):
        report = next(e["report"] for e in entries if e["config"] == config)
        why = too_few_articles(report["n_articles"], "ranking baselines")
        if why:
            warnings.append(
                f"{config}/{eval_split} ({report['n_examples']} rows) is too small to rank baselines: {why}; "
                "the order below is no evidence that one baseline is better."
            )
    return warnings


def results_summary(results: Mapping[str, Any]) -> str:
    """One line per baseline: ``config/baseline: metric = score [CI]`` (``n/a`` when undefined)."""
    lines = []
    for e in results["baselines"]:
        ci = f" [{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]" if e["ci"] else ""
        lines.append(f"{e['config']}/{e['baseline']}: {e['primary_metric']} = {format_metric(e['score'])}{ci}")
    return "\n".join(lines)


def rank(scores: Sequence[float | None]) -> list[int | None]:
    """Competition ranks of ``scores`` (higher is better): equal scores share a rank (1, 1, 3); None
    (an undefined score) gets no rank."""
    defined = [x for x in scores if x is not None]
    return [None if x is None else 1 + sum(1 for y in defined if y > x) for x in scores]


def results_to_json(results: Mapping[str, Any]) -> str:
    return json.dumps(results, ensure_ascii=False, indent=2) + "\n"


_METRIC_TITLES = {"micro_f1": "micro F1", "f_avg": "F_avg", "fnc1": "FNC-1 score", "macro_f1": "macro-F1"}


def leaderboard_markdown(results: Mapping[str, Any]) -> str:
    """The leaderboard: one table per config, baselines ranked by their primary metric (ties share a
    rank, undefined scores last and unranked), after the warnings of :func:`run_benchmark`."""
    lines = [
        "# Baseline leaderboard",
        "",
        f"Dataset version {results['dataset_version']}, fingerprint `{results['dataset_fingerprint'][:16]}`; "
        f"scorer {results['scorer_version']}; seed {results['seed']}; "
        f"{int(results['confidence'] * 100)}% CI from {results['resamples']} article bootstrap resamples. "
        f"Trained on `{results['train_split']}`, scored on `{results['eval_split']}`. Equal scores share a rank.",
    ]
    for warning in results.get("warnings", ()):
        lines += ["", f"> **Warning:** {warning}"]
    by_config: dict[str, list[Mapping[str, Any]]] = {}
    for entry in results["baselines"]:
        by_config.setdefault(entry["config"], []).append(entry)
    for config, entries in by_config.items():
        ranked = sorted(entries, key=lambda e: (e["score"] is None, -(e["score"] or 0.0), e["baseline"]))
        metric = _METRIC_TITLES.get(ranked[0]["primary_metric"], ranked[0]["primary_metric"])
        task = ranked[0]["task"]
        lines += ["", f"## {config} ({results['eval_split']})", ""]
        if task == "ner":
            lines += [f"| rank | baseline | {metric} | 95% CI | precision | recall | token accuracy | model |",
                      "|---:|---|---:|---|---:|---:|---:|---|"]
        else:
            lines += [f"| rank | baseline | {metric} | 95% CI | macro-F1 | accuracy | model |", "|---:|---|---:|---|---:|---:|---|"]
        for place, e in zip(rank([e["score"] for e in ranked]), ranked):
            m = e["report"]["metrics"]
            ci = f"[{e['ci'][0]:.4f}, {e['ci'][1]:.4f}]" if e["ci"] else "n/a"
            extra = (m["micro"]["precision"], m["micro"]["recall"], m.get("accuracy")) if task == "ner" else (m["macro_f1"], m["accuracy"])
            lines.append(
                f"| {place or '-'} | {e['baseline']} | {format_metric(e['score'])} | {ci} | "
                + " | ".join(format_metric(x) for x in extra) + f" | {e['description']} |"
            )
        notes = sorted({n for e in ranked for n in e["report"].get("notes", ()) if n.startswith(("f_avg", "macro_f1", "micro"))})
        cis = sorted({e["ci_note"] for e in ranked if e.get("ci_note")})
        lines += ([""] + [f"- {n}" for n in cis + notes]) if cis or notes else []
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- regression gate


def compare_results(current: Mapping[str, Any], previous: Mapping[str, Any], *, source: str = "previous results") -> list[str]:
    """Why ``current`` fails the gate against ``previous`` (empty list: it passes).

    Fails when the dataset fingerprint changed while the dataset version did not, when a
    baseline of ``previous`` is missing from ``current``, and when a baseline's primary score is
    below the lower end of its previous confidence interval (below the previous score when the
    previous run had no interval). A score above the interval passes.
    """
    for key in ("dataset_fingerprint", "dataset_version", "baselines"):
        if key not in previous:
            raise InputError(f"{source}: no {key!r}; pass a results.json written by `dataset-builder benchmark`.")
    failures = []
    if previous["dataset_fingerprint"] != current["dataset_fingerprint"] and previous["dataset_version"] == current["dataset_version"]:
        failures.append(
            f"dataset fingerprint changed ({previous['dataset_fingerprint'][:12]} -> {current['dataset_fingerprint'][:12]}) "
            f"but the dataset version is still {current['dataset_version']!r}; bump dataset_version.txt (or the README "
            "`version`) whenever the data changes."
        )
    now = {(e["config"], e["baseline"]): e for e in current["baselines"]}
    for old in previous["baselines"]:
        key = (old["config"], old["baseline"])
        label = f"{old['config']}/{old['baseline']}"
        new = now.get(key)
        if new is None:
            failures.append(f"baseline {label} is in {source} but was not run now; run it or refresh {source}.")
            continue
        if new["primary_metric"] != old["primary_metric"]:
            failures.append(f"baseline {label} is scored by {new['primary_metric']} now but by {old['primary_metric']} in {source}.")
            continue
        metric = new["primary_metric"]
        if old["score"] is None:
            continue  # undefined before: nothing to fall below
        if new["score"] is None:
            failures.append(f"baseline {label} {metric} is undefined (null) now but was {old['score']:.4f} in {source}.")
            continue
        if old.get("ci"):
            low, high = old["ci"]
            if new["score"] < low:
                failures.append(
                    f"baseline {label} {metric} dropped to {new['score']:.4f}, below the previous 95% CI "
                    f"[{low:.4f}, {high:.4f}] (previous score {old['score']:.4f})."
                )
        elif new["score"] < old["score"]:
            failures.append(f"baseline {label} {metric} dropped to {new['score']:.4f} from {old['score']:.4f} (no previous CI).")
    return failures


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a ``results.json`` written by :func:`run_benchmark`."""
    return read_json_object(path, "pass the results.json of an earlier `dataset-builder benchmark` run.")
