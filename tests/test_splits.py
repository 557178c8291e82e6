"""Tests of dataset_builder.splits: grouping, near-duplicates, stability, stratification, --check."""

from __future__ import annotations

import json
import random
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataset_builder.cli import cli
from dataset_builder.errors import InputError
from dataset_builder.jsonl import write_jsonl
from dataset_builder.records import GOLD, Annotation, Article, SPLIT_NAMES, SplitManifest, StanceLabel
from dataset_builder.splits import (
    assign_splits,
    check_splits,
    find_near_duplicates,
    parse_ratios,
    read_gold,
    read_manifest,
    write_manifest,
)

VOCAB = [f"{a}{b}{c}" for a in "bcdfghk" for b in "aeiou" for c in "lmnprst"]  # 245 distinct words
LABELS = ("favor", "against", "neutral")


def words_of(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def edited(words: list[str], rng: random.Random) -> list[str]:
    """A wire copy: one word replaced (Jaccard of 5-shingles stays far above 0.7 for 100+ words)."""
    out = list(words)
    out[rng.randrange(len(out))] = "zzedit"
    return out


def corpus(spec: dict[str, list[str]], labels: dict[str, str] | None = None, per_segment: int = 20):
    """Articles and one gold annotation per ``per_segment`` words; each segment has one stance
    toward its first word, labelled ``labels[article]`` (default: by a hash of the id)."""
    articles, gold = [], []
    for article_id, words in spec.items():
        chunks = [" ".join(words[i : i + per_segment]) + "." for i in range(0, len(words), per_segment)]
        articles.append(Article(id=article_id, text=" ".join(chunks)))
        for k, text in enumerate(chunks):
            label = (labels or {}).get(article_id, LABELS[sum(map(ord, article_id)) % 3])
            first = text.split(" ")[0].rstrip(".")
            gold.append(
                Annotation(
                    segment_id=f"{article_id}-s{k}",
                    article_id=article_id,
                    text=text,
                    annotator=GOLD,
                    stances=(StanceLabel(0, len(first), first, label),),
                )
            )
    return articles, gold


def shingle_jaccard(a: str, b: str, k: int = 5) -> float:
    """Independent oracle: exact Jaccard of lower-cased word k-shingles, as plain Python sets."""

    def sh(t: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", t.lower())
        return {tuple(w[i : i + k]) for i in range(max(len(w) - k + 1, 1))} if w else set()

    x, y = sh(a), sh(b)
    return len(x & y) / len(x | y) if x | y else 0.0


# --------------------------------------------------------------------------- ratios and inputs


@pytest.mark.parametrize(
    "text, fix",
    [("0.8,0.2", "three numbers"), ("0.8,0.1,0.2", "sum to 1"), ("a,b,c", "three numbers"), ("1.2,-0.1,-0.1", ">= 0")],
)
def test_parse_ratios_rejects_bad_values(text, fix):
    with pytest.raises(InputError, match=re.escape(fix)):
        parse_ratios(text)


def test_parse_ratios_accepts_three_shares():
    assert parse_ratios("0.7, 0.15, 0.15") == (0.7, 0.15, 0.15)


def test_read_gold_names_line_of_non_gold_and_duplicate(tmp_path):
    _, gold = corpus({"a": ["w"] * 5})
    row = gold[0].to_dict()
    path = tmp_path / "gold.jsonl"
    write_jsonl(path, [row, {**row, "annotator": "alice"}])
    with pytest.raises(InputError, match=r"gold.jsonl:2: annotator is 'alice', expected 'gold'"):
        read_gold(path)
    write_jsonl(path, [row, row])
    with pytest.raises(InputError, match=r"gold.jsonl:2: segment 'a-s0' is already annotated at line 1"):
        read_gold(path)


def test_missing_article_text_is_an_error_naming_it():
    articles, gold = corpus({"a": ["w"] * 5, "b": ["v"] * 5})
    with pytest.raises(InputError, match=r"not in the articles file \('b'\)"):
        assign_splits(gold, articles[:1])


# --------------------------------------------------------------------------- near duplicates


def test_wire_copy_found_and_unrelated_article_not():
    rng = random.Random(1)
    base = words_of(rng, 120)
    texts = {"b": " ".join(base), "a": " ".join(edited(base, rng)), "c": " ".join(words_of(rng, 120))}
    clusters = find_near_duplicates(texts)
    assert [c.articles for c in clusters] == [("a", "b")]
    (a, b, j), = clusters[0].pairs
    assert (a, b) == ("a", "b") and j == pytest.approx(shingle_jaccard(texts["a"], texts["b"]), abs=1e-4)


def test_a_cluster_keeps_a_spanning_tree_of_its_pairs_linear_in_its_size():
    rng = random.Random(5)
    base = words_of(rng, 120)
    texts = {f"copy-{i:02d}": " ".join(base) for i in range(30)}  # 435 confirmed pairs
    (cluster,) = find_near_duplicates(texts)
    assert len(cluster.articles) == 30 and len(cluster.pairs) == 29
    # the kept pairs still join every copy (their transitive closure is the cluster)
    reached, frontier = {cluster.articles[0]}, True
    while frontier:
        frontier = False
        for a, b, _ in cluster.pairs:
            if (a in reached) != (b in reached):
                reached |= {a, b}
                frontier = True
    assert reached == set(cluster.articles)


def test_near_duplicates_of_near_duplicates_form_one_cluster():
    rng = random.Random(2)
    base = words_of(rng, 150)
    one = edited(base, rng)
    two = edited(one, rng)
    texts = {"x": " ".join(base), "y": " ".join(one), "z": " ".join(two), "q": " ".join(words_of(rng, 150))}
    assert [c.articles for c in find_near_duplicates(texts)] == [("x", "y", "z")]


def test_threshold_decides_and_is_checked():
    words = VOCAB[:40]
    texts = {"a": " ".join(words), "b": " ".join(words[:20] + ["zzedit"] + words[21:])}
    j = shingle_jaccard(texts["a"], texts["b"])
    assert j == pytest.approx(31 / 41)  # 36 shingles each, 5 differ
    assert find_near_duplicates(texts, threshold=0.6)[0].pairs == (("a", "b", round(j, 4)),)
    assert find_near_duplicates(texts, threshold=0.8) == []
    with pytest.raises(InputError, match=r"threshold must be in \(0, 1\]; got 1.5"):
        find_near_duplicates(texts, threshold=1.5)


def test_texts_without_words_are_nobodys_duplicate():
    assert find_near_duplicates({"a": "!!! ...", "b": "!!! ..."}) == []


# --------------------------------------------------------------------------- assignment


def test_grouping_near_duplicates_share_a_split_and_counts_add_up():
    rng = random.Random(3)
    spec = {f"art{i:02d}": words_of(rng, 100) for i in range(20)}
    spec["copy-of-art05"] = edited(spec["art05"], rng)
    spec["copy-of-art11"] = edited(spec["art11"], rng)
    articles, gold = corpus(spec)
    result = assign_splits(gold, articles)
    split_of = result.manifest.split_of()
    assert set(split_of) == set(spec)
    assert split_of["copy-of-art05"] == split_of["art05"] and split_of["copy-of-art11"] == split_of["art11"]
    assert [c.articles for c in result.manifest.near_duplicate_clusters] == [
        ("art05", "copy-of-art05"), ("art11", "copy-of-art11")
    ]
    r = result.report
    assert r.articles_read == sum(r.articles.values()) == 22 and r.segments_read == sum(r.segments.values()) == len(gold)


def test_stratified_by_stance_label():
    # 30 one-segment articles, 10 per label: 0.8/0.1/0.1 means exactly one of each label in
    # validation and test; a plain hash of the ids would rarely give that.
    rng = random.Random(4)
    spec = {f"a{i:02d}": words_of(rng, 20) for i in range(30)}
    labels = {a: LABELS[i % 3] for i, a in enumerate(sorted(spec))}
    articles, gold = corpus(spec, labels)
    report = assign_splits(gold, articles, salt="s1").report
    assert report.stance_labels["validation"] == {"favor": 1, "against": 1, "neutral": 1}
    assert report.stance_labels["test"] == {"favor": 1, "against": 1, "neutral": 1}
    assert report.stance_labels["train"] == {"favor": 8, "against": 8, "neutral": 8}


@pytest.mark.parametrize("n, expected", [(1, {"train": 1}), (2, {"train": 1, "test": 1}), (3, {"train": 1, "test": 1, "validation": 1})])
def test_small_corpora_fill_train_then_test_then_validation(n, expected):
    rng = random.Random(5)
    articles, gold = corpus({f"a{i}": words_of(rng, 20) for i in range(n)})
    counts = assign_splits(gold, articles).report.articles
    assert {s: c for s, c in counts.items() if c} == expected


def test_zero_ratio_split_stays_empty():
    rng = random.Random(6)
    articles, gold = corpus({f"a{i}": words_of(rng, 20) for i in range(10)})
    counts = assign_splits(gold, articles, ratios=(0.5, 0.0, 0.5)).report.articles
    assert counts["validation"] == 0 and counts["train"] == counts["test"] == 5


def test_same_input_in_any_order_gives_the_same_manifest_bytes(tmp_path):
    rng = random.Random(7)
    spec = {f"a{i}": words_of(rng, 60) for i in range(15)}
    spec["a3-copy"] = edited(spec["a3"], rng)
    articles, gold = corpus(spec)
    first = write_manifest(assign_splits(gold, articles).manifest, tmp_path / "m1.json").read_bytes()
    shuffled = list(gold)
    random.Random(0).shuffle(shuffled)
    second = write_manifest(assign_splits(shuffled, articles[::-1]).manifest, tmp_path / "m2.json").read_bytes()
    assert first == second
    assert json.loads(first)["data_sha256"]


def test_salt_changes_the_assignment():
    rng = random.Random(8)
    articles, gold = corpus({f"a{i:02d}": words_of(rng, 20) for i in range(40)})
    one = assign_splits(gold, articles, salt="one").manifest.splits
    two = assign_splits(gold, articles, salt="two").manifest.splits
    assert one != two


# --------------------------------------------------------------------------- stability


def test_adding_articles_moves_no_assigned_article():
    rng = random.Random(9)
    spec = {f"m{i:02d}": words_of(rng, 60) for i in range(25)}
    articles, gold = corpus(spec)
    first = assign_splits(gold, articles).manifest
    grown = dict(spec)
    grown.update({f"n{i:02d}": words_of(rng, 60) for i in range(25)})
    grown["a-copy-of-m07"] = edited(spec["m07"], rng)  # sorts before m07: would lead its cluster
    articles2, gold2 = corpus(grown)
    result = assign_splits(gold2, articles2, previous=first)
    second = result.manifest.split_of()
    assert all(second[a] == s for a, s in first.split_of().items())
    assert second["a-copy-of-m07"] == second["m07"]
    assert result.report.kept_from_previous == 25 and result.report.newly_assigned == 26


def test_new_article_bridging_two_splits_is_held_out_and_reported():
    rng = random.Random(10)
    base = words_of(rng, 200)
    left, right = base[:180] + words_of(rng, 20), words_of(rng, 20) + base[20:]
    spec = {"left": left, "right": right, "zz": words_of(rng, 150)}
    # bridge~left and bridge~right are near-duplicates (J ~ 0.81), left and right are not (J ~ 0.66)
    assert shingle_jaccard(" ".join(left), " ".join(right)) < 0.7 < shingle_jaccard(" ".join(left), " ".join(base))
    articles, gold = corpus(spec)
    previous = SplitManifest(salt="dataset-builder", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("left", "zz"), "validation": (), "test": ("right",)})
    articles2, gold2 = corpus({**spec, "bridge": base})
    result = assign_splits(gold2, articles2, previous=previous)
    assert set(result.manifest.held_out) == {"bridge"}
    assert re.search(r"cluster whose articles are already in test and train \(similar to left \(train\), right \(test\)\)",
                     result.manifest.held_out["bridge"])
    r = result.report
    assert r.held_out_segments == sum(1 for g in gold2 if g.article_id == "bridge")
    assert r.articles_read == sum(r.articles.values()) + len(r.held_out)
    assert check_splits(result.manifest, gold2, articles2).ok


def test_previous_manifest_with_near_duplicates_in_two_splits_is_refused():
    rng = random.Random(11)
    base = words_of(rng, 120)
    articles, gold = corpus({"a": base, "b": edited(base, rng)})
    previous = SplitManifest(salt="dataset-builder", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("a",), "validation": (), "test": ("b",)})
    with pytest.raises(InputError, match=r"Articles a \(train\), b \(test\) are near-duplicates.*--reassign"):
        assign_splits(gold, articles, previous=previous)


def test_previous_manifest_with_other_salt_is_refused():
    articles, gold = corpus({"a": ["w"] * 5})
    previous = SplitManifest(salt="old", ratios=(0.8, 0.1, 0.1), splits={"train": ("a",), "validation": (), "test": ()})
    with pytest.raises(InputError, match=r"previous manifest used salt 'old'.*--reassign"):
        assign_splits(gold, articles, previous=previous)


# --------------------------------------------------------------------------- properties


@st.composite
def corpora(draw):
    """Independent random articles, some with wire copies (one word edited), random stance labels."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 12))
    spec: dict[str, list[str]] = {}
    for i in range(n):
        spec[f"a{rng.randrange(10**6):06d}"] = words_of(rng, rng.randrange(100, 160))
    for source in list(spec):
        if rng.random() < 0.3:
            spec[f"c{rng.randrange(10**6):06d}"] = edited(spec[source], rng)
    labels = {a: rng.choice(LABELS) for a in spec}
    return spec, labels


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=corpora(), ratios=st.sampled_from([(0.8, 0.1, 0.1), (0.6, 0.2, 0.2), (0.5, 0.0, 0.5), (1.0, 0.0, 0.0)]),
       salt=st.text(min_size=0, max_size=8))
def test_property_no_article_and_no_near_duplicate_crosses_splits(data, ratios, salt):
    spec, labels = data
    articles, gold = corpus(spec, labels)
    manifest = assign_splits(gold, articles, ratios=ratios, salt=salt).manifest
    split_of = manifest.split_of()
    # Every article in exactly one split (the record forbids two; here: none is missing).
    assert set(split_of) | set(manifest.held_out) == set(spec) and not manifest.held_out
    # Every pair that an independent exact computation calls near-duplicate shares a split.
    texts = {a.id: a.text for a in articles}
    ids = sorted(texts)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if shingle_jaccard(texts[a], texts[b]) >= 0.8:
                assert split_of[a] == split_of[b], (a, b)
    assert all(not manifest.splits[s] for s, r in zip(SPLIT_NAMES, ratios) if r == 0)
    assert check_splits(manifest, gold, articles).ok


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=corpora(), extra=corpora())
def test_property_adding_articles_never_moves_one(first, extra):
    spec1, labels1 = first
    spec2, labels2 = extra
    rng = random.Random(len(spec1))
    grown = {**spec2, **spec1}
    for a in list(spec1)[:2]:
        grown["b" + a] = edited(spec1[a], rng)  # copies of old articles arrive with the new ones
    articles1, gold1 = corpus(spec1, labels1)
    articles2, gold2 = corpus(grown, {**labels2, **labels1})
    before = assign_splits(gold1, articles1).manifest
    after = assign_splits(gold2, articles2, previous=before).manifest
    moved = {a: (s, after.split_of().get(a)) for a, s in before.split_of().items() if after.split_of().get(a) != s}
    assert not moved


# --------------------------------------------------------------------------- check


def test_check_names_a_cluster_that_crosses_splits():
    rng = random.Random(12)
    base = words_of(rng, 120)
    articles, gold = corpus({"a": base, "b": edited(base, rng), "c": words_of(rng, 120)})
    leaky = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a", "c"), "validation": (), "test": ("b",)})
    report = check_splits(leaky, gold, articles)
    assert not report.ok
    assert re.search(r"near-duplicate cluster crosses splits: a \(train\), b \(test\)", report.problems[0])


def test_check_names_an_unassigned_article():
    articles, gold = corpus({"a": ["w"] * 5, "b": ["v"] * 5})
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a",), "validation": (), "test": ()})
    assert check_splits(manifest, gold, articles).problems == (
        "article b is in the gold data but in no split; run `dataset-builder split` to assign it.",
    )


def test_manifest_with_an_article_in_two_splits_cannot_be_read(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"salt": "s", "ratios": [0.8, 0.1, 0.1],
                                "splits": {"train": ["a", "x"], "validation": [], "test": ["x"]}}))
    with pytest.raises(InputError, match=r"manifest.json: SplitManifest: article 'x' is in both train and test"):
        read_manifest(path)


# --------------------------------------------------------------------------- CLI


def _write_inputs(tmp_path, spec):
    articles, gold = corpus(spec)
    write_jsonl(tmp_path / "gold.jsonl", [g.to_dict() for g in gold])
    write_jsonl(tmp_path / "articles.jsonl", [a.to_dict() for a in articles])
    return articles, gold


def test_cli_split_then_check_then_detect_a_tampered_manifest(tmp_path):
    rng = random.Random(13)
    base = words_of(rng, 120)
    spec = {f"a{i:02d}": words_of(rng, 60) for i in range(12)}
    spec.update({"w1": base, "w2": edited(base, rng)})
    _write_inputs(tmp_path, spec)
    args = [str(tmp_path / "gold.jsonl"), "--articles", str(tmp_path / "articles.jsonl"), "--out", str(tmp_path / "splits")]
    runner = CliRunner()
    result = runner.invoke(cli, ["split", *args])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "splits" / "manifest.json").read_text())
    assert manifest["near_duplicate_clusters"][0]["articles"] == ["w1", "w2"]
    assert sum(manifest["counts"].values()) == 14

    ok = runner.invoke(cli, ["split", *args, "--check"])
    assert ok.exit_code == 0 and "split check passed" in ok.output

    # Move w2 away from w1, dropping the recorded cluster: --check recomputes and names it.
    home = next(s for s, ids in manifest["splits"].items() if "w2" in ids)
    other = next(s for s in SPLIT_NAMES if s != home)
    manifest["splits"][home].remove("w2")
    manifest["splits"][other] = sorted(manifest["splits"][other] + ["w2"])
    manifest["near_duplicate_clusters"] = []
    (tmp_path / "splits" / "manifest.json").write_text(json.dumps(manifest))
    bad = runner.invoke(cli, ["split", *args, "--check"])
    assert bad.exit_code == 1
    assert re.search(rf"leak: near-duplicate cluster crosses splits: w1 \({home}\), w2 \({other}\)", bad.output)


def test_cli_split_keeps_existing_manifest_and_refuses_another_salt(tmp_path):
    rng = random.Random(14)
    _write_inputs(tmp_path, {f"a{i}": words_of(rng, 40) for i in range(6)})
    args = [str(tmp_path / "gold.jsonl"), "--out", str(tmp_path / "splits")]
    runner = CliRunner()
    assert runner.invoke(cli, ["split", *args, "--salt", "x"]).exit_code == 0
    again = runner.invoke(cli, ["split", *args])  # salt taken from the manifest
    assert again.exit_code == 0 and "kept from previous manifest 6" in again.output
    refused = runner.invoke(cli, ["split", *args, "--salt", "y"])
    assert refused.exit_code == 1
    assert refused.output.startswith("error: The previous manifest used salt 'x'") and "Traceback" not in refused.output


# --------------------------------------------------------------------------- pinned (official) splits


def pin(articles, pins: dict[str, str]):
    """The articles with ``meta["split"]`` set for the ids in ``pins`` (as ``import-corpus --split`` does)."""
    return [Article(id=a.id, text=a.text, meta={**a.meta, "split": pins[a.id]}) if a.id in pins else a
            for a in articles]


def test_pinned_articles_land_in_their_split_and_the_others_are_placed_as_before():
    rng = random.Random(21)
    spec = {f"a{i:02d}": words_of(rng, 60) for i in range(30)}
    articles, gold = corpus(spec)
    free = assign_splits(gold, articles).manifest.split_of()
    # pin some articles to a split they would NOT have got, so the test fails if pins are ignored
    pins = {a: next(s for s in ("test", "validation", "train") if s != free[a]) for a in sorted(spec)[:10]}
    result = assign_splits(gold, pin(articles, pins))
    split_of = result.manifest.split_of()
    assert {a: split_of[a] for a in pins} == pins
    assert result.manifest.pinned == tuple(sorted(pins))
    assert dict(result.report.pinned) == {s: sum(1 for x in pins.values() if x == s) for s in SPLIT_NAMES}
    assert set(split_of) == set(spec) and not result.manifest.held_out  # unpinned ones are all placed
    assert result.manifest.to_dict()["pinned"] == sorted(pins)
    # and the manifest round-trips through JSON with its pins
    assert SplitManifest.from_dict(json.loads(json.dumps(result.manifest.to_dict()))) == result.manifest


def test_a_manifest_without_pins_has_no_pinned_keys():
    rng = random.Random(22)
    articles, gold = corpus({f"a{i}": words_of(rng, 40) for i in range(5)})
    result = assign_splits(gold, articles)
    d = result.manifest.to_dict()
    assert "pinned" not in d and "pinned_crossings" not in d
    assert result.manifest.pinned == () and sum(result.report.pinned.values()) == 0


def test_a_fully_pinned_corpus_keeps_the_official_split_whatever_the_ratios():
    rng = random.Random(23)
    spec = {f"t{i}": words_of(rng, 40) for i in range(6)} | {f"e{i}": words_of(rng, 40) for i in range(2)}
    articles, gold = corpus(spec)
    pins = {a: "train" if a.startswith("t") else "test" for a in spec}
    manifest = assign_splits(gold, pin(articles, pins), ratios=(0.34, 0.33, 0.33)).manifest
    assert manifest.splits == {"train": tuple(sorted(a for a in spec if a[0] == "t")), "validation": (),
                               "test": ("e0", "e1")}


def test_a_pin_that_contradicts_the_previous_manifest_is_an_error_naming_the_article_and_the_fix():
    rng = random.Random(24)
    articles, gold = corpus({"a": words_of(rng, 40), "b": words_of(rng, 40)})
    previous = SplitManifest(salt="dataset-builder", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("a", "b"), "validation": (), "test": ()})
    with pytest.raises(InputError, match=r"Article 'b' is pinned to test .* but the previous manifest put it in "
                                         r"train; .*Re-import that file with --split train .*--reassign"):
        assign_splits(gold, pin(articles, {"b": "test"}), previous=previous)
    # agreeing with the manifest is fine, and the pin is recorded
    kept = assign_splits(gold, pin(articles, {"b": "train"}), previous=previous)
    assert kept.manifest.pinned == ("b",) and kept.report.kept_from_previous == 2


def test_a_pin_stays_a_pin_in_later_runs_even_without_the_articles_file():
    rng = random.Random(25)
    articles, gold = corpus({"a": words_of(rng, 40), "b": words_of(rng, 40), "c": words_of(rng, 40)})
    first = assign_splits(gold, pin(articles, {"b": "validation"})).manifest
    again = assign_splits(gold, None, previous=first).manifest
    assert again.pinned == ("b",) and again.split_of()["b"] == "validation"


def test_a_bad_split_value_is_an_error_naming_the_article():
    rng = random.Random(26)
    articles, gold = corpus({"a": words_of(rng, 40)})
    bad = [Article(id="a", text=articles[0].text, meta={"split": "dev"})]
    with pytest.raises(InputError, match=r"Article 'a' has meta 'split' 'dev'; expected one of train, validation, "
                                         r"test .*--split train\|validation\|test"):
        assign_splits(gold, bad)


def test_near_duplicates_across_pinned_splits_are_reported_not_moved_and_check_passes_with_a_note(tmp_path):
    rng = random.Random(27)
    base = words_of(rng, 120)
    spec = {"p1": base, "p2": edited(base, rng), "u": edited(base, rng)} | {f"x{i}": words_of(rng, 60) for i in range(4)}
    articles, gold = corpus(spec)
    pins = {"p1": "train", "p2": "test"}
    result = assign_splits(gold, pin(articles, pins))
    m = result.manifest
    split_of = m.split_of()
    assert (split_of["p1"], split_of["p2"]) == ("train", "test")  # pins beat keeping the cluster together
    # the unpinned copy would leak into either split: held out, with the reason
    assert set(m.held_out) == {"u"} and "already in test and train" in m.held_out["u"]
    assert [c.articles for c in m.pinned_crossings] == [("p1", "p2")]
    assert [c.articles for c in result.report.pinned_crossings] == [("p1", "p2")]
    assert all("p1" not in c.articles for c in m.near_duplicate_clusters)
    check = check_splits(m, gold, pin(articles, pins))
    assert check.ok, check.problems
    assert any(n.startswith("near-duplicate cluster crosses pinned splits") and "p1 (train, pinned)" in n
               for n in check.notes)
    # without the pins, the same crossing is a leak
    unpinned = SplitManifest(salt=m.salt, ratios=m.ratios, splits=m.splits, held_out=m.held_out)
    assert not check_splits(unpinned, gold, articles).ok

    # the CLI: split reports the crossing, --check passes and says why
    write_jsonl(tmp_path / "gold.jsonl", [g.to_dict() for g in gold])
    write_jsonl(tmp_path / "articles.jsonl", [a.to_dict() for a in pin(articles, pins)])
    args = [str(tmp_path / "gold.jsonl"), "--articles", str(tmp_path / "articles.jsonl"), "--out", str(tmp_path / "s")]
    runner = CliRunner()
    out = runner.invoke(cli, ["split", *args])
    assert out.exit_code == 0, out.output
    assert "reported: near-duplicates across pinned (official) splits, not moved: p1, p2" in out.output
    assert "pinned (official split, meta split): train 1, validation 0, test 1" in out.output
    assert read_manifest(tmp_path / "s" / "manifest.json") == m
    ok = runner.invoke(cli, ["split", *args, "--check"])
    assert ok.exit_code == 0, ok.output
    assert "except 1 across pinned (official) splits" in ok.output


def test_a_pinned_article_near_a_previously_placed_unpinned_one_in_another_split_is_an_error():
    rng = random.Random(28)
    base = words_of(rng, 120)
    articles, gold = corpus({"old": base, "new": edited(base, rng)})
    previous = SplitManifest(salt="dataset-builder", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("old",), "validation": (), "test": ()})
    with pytest.raises(InputError, match=r"Articles new \(test, pinned\) and old \(train\) are near-duplicates .*"
                                         r"not both pinned.*--reassign"):
        assign_splits(gold, pin(articles, {"new": "test"}), previous=previous)


def test_check_names_a_pinned_article_outside_its_split():
    rng = random.Random(29)
    articles, gold = corpus({"a": words_of(rng, 40), "b": words_of(rng, 40)})
    manifest = SplitManifest(salt="dataset-builder", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("a", "b"), "validation": (), "test": ()})
    check = check_splits(manifest, gold, pin(articles, {"a": "test"}))
    assert check.problems == ("article a is pinned to test (meta split) but the manifest puts it in train; "
                              "re-import it with --split train or re-split with --reassign.",)


def test_manifest_refuses_a_crossing_that_is_not_between_pinned_articles():
    from dataset_builder.records import NearDuplicateCluster
    from dataset_builder.errors import SchemaError

    cluster = NearDuplicateCluster(articles=("a", "b"), pairs=(("a", "b", 0.9),))
    splits = {"train": ("a",), "validation": (), "test": ("b",)}
    SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits=splits, pinned=("a", "b"), pinned_crossings=(cluster,))
    with pytest.raises(SchemaError, match=r"near-duplicates a \(train\) and b \(test\) are in different splits but "
                                          r"not both pinned"):
        SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits=splits, pinned=("a",), pinned_crossings=(cluster,))
    with pytest.raises(SchemaError, match=r"article 'c' is pinned but in no split"):
        SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits=splits, pinned=("a", "c"))
