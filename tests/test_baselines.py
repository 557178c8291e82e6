"""Tests of dataset_builder.baselines: learnability, outputs, determinism, the CI gate."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
from click.testing import CliRunner

from dataset_builder import baselines
from dataset_builder.baselines import (
    MemorisationTagger,
    compare_results,
    load_model,
    make_model,
    mark_target,
    read_results,
    run_benchmark,
    save_model,
)
from dataset_builder.cli import cli
from dataset_builder.errors import InputError
from dataset_builder.scoring import dataset_fingerprint

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
STANCE = ["favor", "against", "neutral"]
NER_FEATURES = datasets.Features({
    "id": datasets.Value("string"), "article_id": datasets.Value("string"), "text": datasets.Value("string"),
    "tokens": datasets.Sequence(datasets.Value("string")),
    "token_starts": datasets.Sequence(datasets.Value("int32")), "token_ends": datasets.Sequence(datasets.Value("int32")),
    "ner_tags": datasets.Sequence(datasets.ClassLabel(names=TAGS)),
    "spans": [{"start": datasets.Value("int32"), "end": datasets.Value("int32"),
               "label": datasets.Value("string"), "text": datasets.Value("string")}],
})
STANCE_FEATURES = datasets.Features({
    "id": datasets.Value("string"), "article_id": datasets.Value("string"), "segment_id": datasets.Value("string"),
    "text": datasets.Value("string"), "target": datasets.Value("string"),
    "target_start": datasets.Value("int32"), "target_end": datasets.Value("int32"),
    "label": datasets.ClassLabel(names=STANCE),
})

FIRST = ["Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Lars"]
LAST = ["Novak", "Berg", "Costa", "Ivanov", "Meyer", "Haddad", "Larsen", "Moreau", "Silva", "Weber", "Tanaka", "Olsen"]
CITIES = ["Paris", "Lagos", "Lima", "Oslo", "Quito", "Hanoi", "Dakar", "Riga"]
ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"]
FAVOR = ["supports", "praises", "welcomes", "backs"]
AGAINST = ["opposes", "condemns", "rejects", "attacks"]
NEUTRAL = ["mentions", "discussed", "described", "noted"]
TARGETS = ["the plan", "the tax", "the mayor", "the treaty"]


def _ner_sentence(rng: np.random.Generator, names: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    first, last = names[rng.integers(len(names))]
    city, org = CITIES[rng.integers(len(CITIES))], ORGS[rng.integers(len(ORGS))]
    templates = [
        ([first, last, "said", "on", "Monday", "."], ["B-PER", "I-PER", "O", "O", "O", "O"]),
        (["The", "talks", "in", city, "ended", "."], ["O", "O", "O", "B-LOC", "O", "O"]),
        ([org, "shares", "rose", "sharply", "."], ["B-ORG", "O", "O", "O", "O"]),
        (["Officials", "from", org, "met", first, last, "in", city, "."],
         ["O", "O", "B-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]),
    ]
    return templates[rng.integers(len(templates))]


def _ner_rows(rng: np.random.Generator, n: int, names: list[tuple[str, str]], prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        tokens, tags = _ner_sentence(rng, names)
        starts = [sum(len(t) + 1 for t in tokens[:k]) for k in range(len(tokens))]
        ends = [s + len(t) for s, t in zip(starts, tokens)]
        rows.append({"id": f"{prefix}{i}", "article_id": f"{prefix}art{i // 10}", "text": " ".join(tokens), "tokens": tokens,
                     "token_starts": starts, "token_ends": ends, "ner_tags": [TAGS.index(t) for t in tags], "spans": []})
    return rows


def _stance_rows(rng: np.random.Generator, n: int, prefix: str) -> list[dict]:
    rows = []
    for i in range(n):
        label = STANCE[rng.choice(3, p=[0.25, 0.25, 0.5])]
        verb = {"favor": FAVOR, "against": AGAINST, "neutral": NEUTRAL}[label]
        target = TARGETS[rng.integers(len(TARGETS))]
        speaker = f"{FIRST[rng.integers(len(FIRST))]} {LAST[rng.integers(len(LAST))]}"
        text = f"{speaker} {verb[rng.integers(len(verb))]} {target} in {CITIES[rng.integers(len(CITIES))]}."
        start = text.index(target)
        rows.append({"id": f"{prefix}{i}", "article_id": f"{prefix}art{i // 6}", "segment_id": f"{prefix}seg{i}",
                     "text": text, "target": target, "target_start": start, "target_end": start + len(target),
                     "label": STANCE.index(label)})
    return rows


def write_learnable_dataset(root: Path, *, seed: int = 0, version: str | None = None, validation: bool = True) -> Path:
    """Labels that follow from the words; test person names half unseen in training."""
    rng = np.random.default_rng(seed)
    train_names = [(FIRST[i], LAST[i]) for i in range(8)]
    test_names = [(FIRST[i], LAST[i]) for i in range(4, 12)]
    splits = {
        "ner": {"train": _ner_rows(rng, 240, train_names, "ntr"), "test": _ner_rows(rng, 80, test_names, "nte")},
        "stance": {"train": _stance_rows(rng, 240, "str"), "test": _stance_rows(rng, 90, "ste")},
    }
    if validation:
        splits["ner"]["validation"] = _ner_rows(rng, 60, test_names, "nva")  # the CRF's c1/c2 are tuned on it
    yaml = ["---"] + ([f"version: {version}"] if version else []) + ["configs:"]
    for config, by_split in splits.items():
        features = NER_FEATURES if config == "ner" else STANCE_FEATURES
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split, rows in by_split.items():
            (root / config).mkdir(parents=True, exist_ok=True)
            cols = {k: [r[k] for r in rows] for k in rows[0]}
            datasets.Dataset.from_dict(cols, features=features).to_parquet(str(root / config / f"{split}.parquet"))
            yaml += [f"  - split: {split}", f"    path: {config}/{split}.parquet"]
    (root / "README.md").write_text("\n".join(yaml + ["---", "", "# Learnable test dataset"]) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("bench")
    dataset = write_learnable_dataset(root / "dataset")
    results = run_benchmark(dataset, root / "results", seed=0, resamples=200)
    return dataset, root / "results", results


def _scores(results: dict) -> dict[tuple[str, str], float]:
    return {(e["config"], e["baseline"]): e["score"] for e in results["baselines"]}


def test_learned_baselines_beat_majority(bench):
    scores = _scores(bench[2])
    assert scores[("stance", "tfidf_logreg")] > scores[("stance", "majority")] + 0.5
    assert scores[("ner", "crf")] > scores[("ner", "majority")] + 0.5
    assert scores[("ner", "memorisation")] > scores[("ner", "majority")]
    # Half the test names were never seen: features generalise where memorisation cannot.
    assert scores[("ner", "crf")] > scores[("ner", "memorisation")]
    assert scores[("stance", "majority")] == 0.0  # predicts "neutral": F1 of favor and against is 0


def test_outputs_written_and_models_reload(bench):
    dataset, out, results = bench
    assert (out / "leaderboard.md").is_file() and (out / "results.json").is_file()
    assert json.loads((out / "results.json").read_text()) == results
    assert results["dataset_fingerprint"] == dataset_fingerprint(dataset)
    for entry in results["baselines"]:
        assert (out / entry["model"]).read_bytes()[:2] == b"PK"  # a skops zip archive, not a pickle
        preds = [json.loads(line) for line in (out / entry["predictions"]).read_text().splitlines()]
        model = load_model(out / entry["model"])
        if entry["task"] == "ner":
            test = datasets.Dataset.from_parquet(str(dataset / "ner" / "test.parquet"))
            again = model.predict([list(t) for t in test["tokens"][:5]])
            assert [[str(t) for t in seq] for seq in again] == [p["tags"] for p in preds[:5]]
        else:
            test = datasets.Dataset.from_parquet(str(dataset / "stance" / "test.parquet"))
            x = [(r["target"], mark_target(r["text"], r["target_start"], r["target_end"]), False)
                 for r in test.select(range(5))]
            assert [str(y) for y in model.predict(x)] == [p["label"] for p in preds[:5]]
        assert entry["report"]["split_hash"] and entry["report"]["bootstrap"]["resamples"] == 200


def test_leaderboard_ranks_baselines(bench):
    text = (bench[1] / "leaderboard.md").read_text()
    assert "## stance (test)" in text and "## ner (test)" in text
    stance_rows = [line for line in text.split("## stance")[1].split("## ")[0].splitlines() if line.startswith("| 1 ")]
    best = max(e["score"] for e in bench[2]["baselines"] if e["config"] == "stance")
    tops = {e["baseline"] for e in bench[2]["baselines"] if e["config"] == "stance" and e["score"] == best}
    assert {row.split("|")[2].strip() for row in stance_rows} == tops and "majority" not in tops
    assert f"Dataset version 0.0.0, fingerprint `{bench[2]['dataset_fingerprint'][:16]}`" in text


def test_benchmark_is_byte_identical(bench, tmp_path):
    dataset, out, _ = bench
    run_benchmark(dataset, tmp_path / "again", seed=0, resamples=200)
    for name in ("results.json", "leaderboard.md", "predictions/ner.crf.jsonl", "predictions/stance.tfidf_logreg.jsonl"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


# --------------------------------------------------------------------------- gate


def test_gate_passes_on_identical_results(bench):
    assert compare_results(bench[2], bench[2]) == []


def test_gate_names_the_baseline_that_dropped(bench):
    previous = json.loads(json.dumps(bench[2]))
    for entry in previous["baselines"]:
        if entry["baseline"] == "memorisation":  # scores about 0.92 on this data
            entry["score"], entry["ci"] = 0.97, [0.95, 0.99]
    failures = compare_results(bench[2], previous, source="old.json")
    assert len(failures) == 1
    assert failures[0].startswith("baseline ner/memorisation micro_f1 dropped to 0.9")
    assert "below the previous 95% CI [0.9500, 0.9900] (previous score 0.9700)" in failures[0]
    # A score above the previous interval passes.
    previous["baselines"][0]["ci"] = [-1.0, -0.5]
    assert compare_results(bench[2], previous, source="old.json") == failures


def test_gate_fingerprint_without_version_bump(bench):
    previous = json.loads(json.dumps(bench[2]))
    previous["dataset_fingerprint"] = "0" * 64
    failures = compare_results(bench[2], previous)
    assert len(failures) == 1
    assert "dataset fingerprint changed (000000000000 -> " in failures[0]
    assert "but the dataset version is still '0.0.0'; bump dataset_version.txt" in failures[0]
    previous["dataset_version"] = "0.9.0"
    assert compare_results(bench[2], previous) == []


def test_gate_missing_baseline_and_bad_file(bench, tmp_path):
    current = json.loads(json.dumps(bench[2]))
    current["baselines"] = [e for e in current["baselines"] if e["baseline"] != "memorisation"]
    assert compare_results(current, bench[2], source="old.json") == [
        "baseline ner/memorisation is in old.json but was not run now; run it or refresh old.json."
    ]
    with pytest.raises(InputError, match=r"no 'dataset_fingerprint'; pass a results.json written by `dataset-builder benchmark`"):
        compare_results(bench[2], {"baselines": []}, source="x.json")
    (tmp_path / "bad.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.json: not a JSON file .*; pass the results.json of an earlier `dataset-builder benchmark` run"):
        read_results(tmp_path / "bad.json")


def test_cli_benchmark_gate_exit_codes(tmp_path):
    dataset = write_learnable_dataset(tmp_path / "dataset", seed=1)
    runner = CliRunner()
    first = runner.invoke(cli, ["benchmark", str(dataset), "-o", str(tmp_path / "r1"), "--config", "stance", "--resamples", "50"])
    assert first.exit_code == 0, first.output
    assert "stance/tfidf_logreg: f_avg = " in first.output
    ok = runner.invoke(cli, ["benchmark", str(dataset), "-o", str(tmp_path / "r2"), "--config", "stance", "--resamples", "50",
                             "--compare", str(tmp_path / "r1" / "results.json")])
    assert ok.exit_code == 0, ok.output
    assert "benchmark gate passed" in ok.output
    previous = read_results(tmp_path / "r1" / "results.json")
    previous["dataset_fingerprint"] = "f" * 64
    for entry in previous["baselines"]:
        if entry["baseline"] == "tfidf_logreg":
            entry["ci"] = [1.5, 2.0]
    (tmp_path / "prev.json").write_text(json.dumps(previous), encoding="utf-8")
    bad = runner.invoke(cli, ["benchmark", str(dataset), "-o", str(tmp_path / "r3"), "--config", "stance", "--resamples", "50",
                              "--compare", str(tmp_path / "prev.json")])
    assert bad.exit_code == 1
    assert "gate: baseline stance/tfidf_logreg f_avg dropped to" in bad.output
    assert "gate: dataset fingerprint changed (ffffffffffff -> " in bad.output
    assert "benchmark gate failed (2 problem(s))" in bad.output


# --------------------------------------------------------------------------- pieces


def test_crf_is_tuned_on_validation_and_trained_to_convergence(bench):
    crf = next(e for e in bench[2]["baselines"] if e["baseline"] == "crf")
    tuning = crf["tuning"]
    assert tuning["split"] == "validation"
    assert [(g["c1"], g["c2"]) for g in tuning["grid"]] == list(baselines.CRF_GRID)
    best = max(g["validation_f1"] for g in tuning["grid"])
    first_best = next(g for g in tuning["grid"] if g["validation_f1"] == best)
    assert (tuning["c1"], tuning["c2"]) == (first_best["c1"], first_best["c2"])
    assert all(g["stopped"] == "converged" and g["iterations"] > 0 for g in tuning["grid"])
    model = load_model(bench[1] / crf["model"])
    assert (model.named_steps["crf"].c1, model.named_steps["crf"].c2) == (tuning["c1"], tuning["c2"])


def test_crf_grid_in_worker_processes_gives_the_same_model():
    rng = np.random.default_rng(3)
    names = [(FIRST[i], LAST[i]) for i in range(12)]
    train = [_ner_sentence(rng, names) for _ in range(120)]
    val = [_ner_sentence(rng, names) for _ in range(30)]
    data = ([t for t, _ in train], [g for _, g in train]), ([t for t, _ in val], [g for _, g in val])
    grid = baselines.CRF_GRID[:2]
    serial, serial_info = baselines.tune_crf(*data, grid, workers=1)
    pooled, pooled_info = baselines.tune_crf(*data, grid, workers=2)
    assert serial_info == pooled_info
    assert [list(p) for p in serial.predict(data[1][0])] == [list(p) for p in pooled.predict(data[1][0])]


def test_crf_without_validation_uses_the_default(tmp_path):
    dataset = write_learnable_dataset(tmp_path / "dataset", validation=False)
    results = run_benchmark(dataset, tmp_path / "out", configs=["ner"], baselines={"ner": ["crf"]}, resamples=0)
    tuning = results["baselines"][0]["tuning"]
    assert tuning["split"] is None and (tuning["c1"], tuning["c2"]) == baselines.CRF_DEFAULT
    assert tuning["stopped"] == "converged"


def test_ner_leaderboard_and_results_have_token_accuracy(bench):
    _, out, results = bench
    for e in results["baselines"]:
        if e["task"] == "ner":
            m = e["report"]["metrics"]
            assert m["accuracy"] == pytest.approx(m["n_tokens_correct"] / e["report"]["n_tokens"])
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "| rank | baseline | micro F1 | 95% CI | precision | recall | token accuracy | model |" in board
    crf = next(e for e in results["baselines"] if e["baseline"] == "crf")
    assert f"| {crf['report']['metrics']['accuracy']:.4f} |" in board


def test_crf_features():
    from dataset_builder.baselines import TokenFeaturizer, sentence_features, word_shape

    assert word_shape("McDonald's") == ("XxXxxxxx'x", "XxXx'x")
    assert word_shape("1996-08-30") == ("dddd-dd-dd", "d-d-d")
    first, mid, last = sentence_features(["EU", "rejects", "."])
    assert {"w=eu", "W=EU", "shape=XX", "upper", "p2=eu", "s2=eu", "-1:BOS", "+1:w=rejects", "+2:w=."} <= set(first)
    assert {"p4=reje", "s4=ects", "-1:w=eu", "-1:upper", "+1:sshape=.", "-1|0:sshape=X|x", "0|+1:sshape=x|."} <= set(mid)
    assert not any(f.startswith(("p1=", "s1=", "-1|0=", "0|+1=")) for f in first + mid + last)  # no 1-char affixes, no word bigrams
    assert {"punct", "+1:EOS", "-2:w=eu"} <= set(last) and "-1:BOS" not in last
    assert "+1:EOS" not in mid and not any(f.startswith("+2:") for f in mid)
    assert "allcaps" in sentence_features(["EU", "REJECTS", "CALL"])[0] and "allcaps" not in first
    # version 2, the features of models saved before: 1-4 character affixes and word bigrams, no cased word
    old = sentence_features(["EU", "rejects", "."], version=2)[1]
    assert {"p1=r", "s1=s", "-1|0=eu|rejects", "0|+1=rejects|."} <= set(old) and not any(f.startswith("W=") for f in old)
    assert TokenFeaturizer(version=2).transform([["EU", "rejects", "."]])[0][1] == old
    assert TokenFeaturizer().transform([["EU", "rejects", "."]])[0][1] == mid


def test_the_gazetteer_marks_place_names_longest_first_and_only_capitalised():
    from dataset_builder.baselines import gazetteer_marks

    places = frozenset({("new", "york"), ("york",), ("new", "york", "city"), ("paris",), ("rio", "de", "janeiro")})
    tokens = ["From", "New", "York", "City", "to", "Paris", ",", "york", "and", "Rio", "de", "Janeiro", "New"]
    assert gazetteer_marks(tokens, places) == [None, "gaz=B", "gaz=I", "gaz=I", None, "gaz=B", None, None, None,
                                               "gaz=B", "gaz=I", "gaz=I", None]
    assert gazetteer_marks([], places) == []


def test_version_4_features_add_the_gazetteer_kept_in_the_fitted_model(tmp_path):
    from dataset_builder.baselines import TokenFeaturizer, place_names, sentence_features

    names = place_names().split("\n")
    assert names == sorted(names) and len(names) > 20_000
    assert {"france", "paris", "new york city", "texas", "europe"} <= set(names)
    tokens = ["Talks", "in", "Paris", "and", "Leston", "."]
    v4, v3 = sentence_features(tokens), sentence_features(tokens, version=3)
    assert "gaz=B" in v4[2] and v4[2][:-1] == v3[2]  # version 3 plus the mark
    assert all(not any(f.startswith("gaz=") for f in feats) for feats in v3 + v4[:2] + v4[3:])
    featurizer = TokenFeaturizer().fit([tokens])
    assert featurizer.places_ == place_names()
    featurizer.places_ = "leston"  # the model's own list is what it reads, not the package's
    got = featurizer.transform([tokens])[0]
    assert "gaz=B" in got[4] and "gaz=B" not in got[2]
    save_model(featurizer, tmp_path / "f.skops")
    assert load_model(tmp_path / "f.skops").transform([tokens]) == [got]
    assert TokenFeaturizer(version=3).transform([tokens])[0] == v3  # models saved before featurise as trained


def test_crf_search_on_a_share_then_final_fit_on_all(monkeypatch):
    from dataset_builder.baselines import ner

    rng = np.random.default_rng(5)
    names = [(FIRST[i], LAST[i]) for i in range(12)]
    train = [_ner_sentence(rng, names) for _ in range(90)]
    val = [_ner_sentence(rng, names) for _ in range(30)]
    data = ([t for t, _ in train], [g for _, g in train]), ([t for t, _ in val], [g for _, g in val])
    calls, real = [], ner.make_crf

    def spy(c1, c2, **kw):
        model = real(c1, c2, **kw)
        fit = model.fit
        model.fit = lambda X, y: (calls.append((c1, c2, kw.get("stopping"), len(X))), fit(X, y))[1]
        return model

    monkeypatch.setattr(ner, "make_crf", spy)
    monkeypatch.setattr(ner, "CRF_SEARCH_MIN_SENTENCES", 60)
    grid = baselines.CRF_GRID[:2]
    model, info = baselines.tune_crf(*data, grid, workers=1)
    search = ner.CRF_SEARCH_STOPPING
    # every third sentence, penalties scaled by 30/90; then the winner, unscaled, on all 90 until CRF_STOPPING holds
    assert calls[:2] == [(pytest.approx(c1 / 3), pytest.approx(c2 / 3), search, 30) for c1, c2 in grid]
    assert calls[2:] == [(info["c1"], info["c2"], None, 90)]
    assert info["search"] == {"sentences": 30, "of": 90, "delta": search["delta"]}
    crf = model.named_steps["crf"]
    assert (crf.c1, crf.c2, crf.delta, crf.max_iterations) == (info["c1"], info["c2"], baselines.CRF_STOPPING["delta"], None)
    assert info["stopped"] == "converged" and [(g["c1"], g["c2"]) for g in info["grid"]] == list(grid)


def test_mark_target():
    text = "Obama spoke"
    assert mark_target(text, 0, len("Obama")) == " TGTSTART Obama TGTEND  spoke"
    with pytest.raises(InputError, match=r"target offsets \[3, 99\) do not fit a text of length 11"):
        mark_target(text, 3, 99)


def test_memorisation_tagger_ties_and_fallbacks():
    model = MemorisationTagger().fit([["Rome", "Rome", "rome", "x"]], [["B-LOC", "B-PER", "O", "O"]])
    # "Rome": one B-LOC, one B-PER: tie goes to the tag that sorts first; "ROME" falls back to
    # the lowercase table ("rome": B-LOC, B-PER, O tie); unseen tokens get "O".
    assert model.predict([["Rome", "ROME", "Paris"]]) == [["B-LOC", "B-LOC", "O"]]


def test_make_model_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"The 'name' parameter must be one of \['majority', 'tfidf_logreg', 'pair_relation', "
                       r"'per_target_svm'\] for task 'stance'. Got 'bert' instead."):
        make_model("stance", "bert")


class _NotTrusted:
    def __init__(self):
        self.value = 1


def test_load_model_refuses_untrusted_types(tmp_path):
    save_model(_NotTrusted(), tmp_path / "m.skops")
    with pytest.raises(InputError, match=r"m.skops: holds types not trusted by dataset_builder: \['test_baselines._NotTrusted'\]"):
        load_model(tmp_path / "m.skops")
    assert "dataset_builder.baselines.MemorisationTagger" in baselines.TRUSTED_TYPES


def test_every_trusted_project_type_is_importable_where_it_is_named():
    import importlib

    for name in baselines.TRUSTED_TYPES:
        if name.startswith("dataset_builder."):
            module, _, attr = name.rpartition(".")
            assert callable(getattr(importlib.import_module(module), attr)), name


def test_a_model_saved_under_the_old_module_names_still_loads(tmp_path):
    import zipfile

    X, y = [["Rome", "fell"], ["Paris"]], [["B-LOC", "O"], ["B-LOC"]]
    save_model(MemorisationTagger().fit(X, y), tmp_path / "new.skops")
    with zipfile.ZipFile(tmp_path / "new.skops") as zin, zipfile.ZipFile(tmp_path / "old.skops", "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "schema.json":
                assert b"dataset_builder.baselines.ner" in data
                data = data.replace(b"dataset_builder.baselines.ner", b"dataset_builder.baselines")
            zout.writestr(item, data)
    import skops.io as sio

    assert sio.get_untrusted_types(file=tmp_path / "old.skops") == ["dataset_builder.baselines.MemorisationTagger"]
    assert load_model(tmp_path / "old.skops").predict([["Paris", "rome"]]) == [["B-LOC", "B-LOC"]]


def test_example_ci_workflow_runs_the_gate():
    import yaml

    path = Path(__file__).resolve().parents[1] / "examples" / "github-actions-benchmark.yml"
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["pull_request"]["paths"] == [workflow["env"]["DATASET_DIR"] + "/**"]
    steps = workflow["jobs"]["benchmark"]["steps"]
    gate = next(s for s in steps if s.get("name") == "Benchmark with the regression gate")
    assert 'dataset-builder benchmark "$DATASET_DIR"' in gate["run"]
    assert "steps.previous.outputs.compare" in gate["run"]
    assert "--compare" in next(s for s in steps if s.get("id") == "previous")["run"]


def test_benchmark_runs_the_configs_present_and_rejects_empty_splits(tmp_path):
    dataset = write_learnable_dataset(tmp_path / "dataset", seed=2)
    import shutil

    shutil.rmtree(dataset / "ner")
    results = run_benchmark(dataset, tmp_path / "out", resamples=20)
    assert {e["config"] for e in results["baselines"]} == {"stance"}
    empty = datasets.Dataset.from_parquet(str(dataset / "stance" / "test.parquet")).select([])
    empty.to_parquet(str(dataset / "stance" / "test.parquet"))
    with pytest.raises(InputError, match=r"config 'stance' split 'test' has no rows; annotate more articles or pick other splits"):
        run_benchmark(dataset, tmp_path / "out2", resamples=20)


def test_benchmark_needs_two_stance_classes(tmp_path):
    dataset = write_learnable_dataset(tmp_path / "dataset", seed=3)
    train = datasets.Dataset.from_parquet(str(dataset / "stance" / "train.parquet"))
    train.filter(lambda r: r["label"] == STANCE.index("neutral")).to_parquet(str(dataset / "stance" / "train.parquet"))
    with pytest.raises(InputError, match=r"split 'train' has one class only \('neutral'\); tfidf_logreg needs at least two"):
        run_benchmark(dataset, tmp_path / "out", configs=["stance"], resamples=0)


# --------------------------------------------------------------------------- scores that mean nothing


def test_equal_scores_share_a_rank_and_undefined_ones_get_none():
    assert baselines.rank([0.5, 0.5, 0.2, None, 0.9]) == [2, 2, 4, None, 1]
    assert baselines.rank([0.0, 0.0]) == [1, 1]


def _entry(config: str, name: str, score: float | None) -> dict:
    metrics = {"macro_f1": score, "accuracy": score}
    notes = [] if score is not None else ["f_avg: null (undefined: the split has no gold example of favor)"]
    return {"config": config, "task": "stance", "baseline": name, "description": name, "primary_metric": "f_avg",
            "score": score, "ci": [], "report": {"metrics": metrics, "notes": notes, "n_articles": 1, "n_examples": 3}}


def test_leaderboard_ties_share_a_rank_and_null_is_last():
    results = {"dataset_version": "1", "dataset_fingerprint": "f" * 64, "scorer_version": "1", "seed": 0,
               "confidence": 0.95, "resamples": 0, "train_split": "train", "eval_split": "test",
               "warnings": ["stance/test (3 rows) is too small to rank baselines"],
               "baselines": [_entry("stance", "b", 0.0), _entry("stance", "a", 0.0), _entry("stance", "c", None)]}
    text = baselines.leaderboard_markdown(results)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "baseline" not in line]
    assert rows[0].startswith("| 1 | a | 0.0000 |") and rows[1].startswith("| 1 | b | 0.0000 |")
    assert rows[2].startswith("| - | c | n/a | n/a |")
    assert "> **Warning:** stance/test (3 rows) is too small to rank baselines" in text
    assert "- f_avg: null (undefined: the split has no gold example of favor)" in text


def test_small_eval_split_warns_in_results_leaderboard_and_cli(tmp_path):
    dataset = write_learnable_dataset(tmp_path / "dataset", seed=3)
    import shutil

    shutil.rmtree(dataset / "ner")
    test = datasets.Dataset.from_parquet(str(dataset / "stance" / "test.parquet"))
    test.filter(lambda r: r["article_id"] in ("steart0", "steart1")).to_parquet(str(dataset / "stance" / "test.parquet"))
    results = run_benchmark(dataset, tmp_path / "out", resamples=20)
    expected = ("stance/test (12 rows) is too small to rank baselines: the split has 2 "
                "article(s) and ranking baselines needs at least 10 (docs/scoring.md)")
    assert results["warnings"] == [expected + "; the order below is no evidence that one baseline is better."]
    assert all(e["ci"] == [] and "needs at least 10" in e["ci_note"] for e in results["baselines"])
    assert f"> **Warning:** {expected}" in (tmp_path / "out" / "leaderboard.md").read_text()
    result = CliRunner().invoke(cli, ["benchmark", str(dataset), "-o", str(tmp_path / "cli"), "--resamples", "20"])
    assert result.exit_code == 0, result.output
    assert f"warning: {expected}" in result.output


def test_gate_on_an_undefined_score():
    old = {"dataset_fingerprint": "f", "dataset_version": "1", "baselines": [_entry("stance", "a", 0.5)]}
    new = {"dataset_fingerprint": "f", "dataset_version": "1", "baselines": [_entry("stance", "a", None)]}
    assert compare_results(new, old) == ["baseline stance/a f_avg is undefined (null) now but was 0.5000 in previous results."]
    assert compare_results(old, new) == []


def test_vectorizer_vocabularies_are_saved_as_arrays_and_load_back(tmp_path):
    import zipfile

    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from dataset_builder.baselines.persist import pack_terms, unpack_terms

    texts = ["a\nb c", "é café ☕", "👩\u200d👩\u200d👧 family", "noise \ud800x here", "c b a"] * 2
    y = [0, 1, 0, 1, 0] * 2
    model = Pipeline([("tfidf", TfidfVectorizer(analyzer="char", ngram_range=(1, 3))),
                      ("clf", LogisticRegression())]).fit(texts, y)
    before = dict(model[0].vocabulary_)
    save_model(model, tmp_path / "m.skops")
    assert model[0].vocabulary_ == before and model[0].vocabulary is None and not hasattr(model[0], "packed_vocabulary_")
    with zipfile.ZipFile(tmp_path / "m.skops") as z:
        assert len(z.namelist()) < 20  # not a file per vocabulary entry
    loaded = load_model(tmp_path / "m.skops")
    assert loaded[0].vocabulary_ == before and not hasattr(loaded[0], "packed_vocabulary_")
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    sio.dump(model, tmp_path / "old.skops")  # saved with its dict, as before: loads as it is
    assert load_model(tmp_path / "old.skops")[0].vocabulary_ == before
    terms = ["a\nb", "é", "\ud800x", "👩\u200d👩\u200d👧", ""]
    assert unpack_terms(*pack_terms(terms)) == {t: i for i, t in enumerate(terms)}


def test_a_given_vocabulary_is_saved_as_arrays_too(tmp_path):
    import zipfile

    from sklearn.feature_extraction.text import CountVectorizer

    vocabulary = {f"w{i}": i for i in range(500)}
    v = CountVectorizer(vocabulary=vocabulary)
    v._validate_vocabulary()
    save_model(v, tmp_path / "v.skops")
    assert v.vocabulary is vocabulary and v.vocabulary_ == vocabulary  # left as it was
    with zipfile.ZipFile(tmp_path / "v.skops") as z:
        assert len(z.namelist()) < 20
    loaded = load_model(tmp_path / "v.skops")
    assert loaded.vocabulary == vocabulary == loaded.vocabulary_
    assert (loaded.transform(["w3 w499 w3"]) != v.transform(["w3 w499 w3"])).nnz == 0
