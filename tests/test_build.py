"""Tests of dataset_builder.build: tokens, BIO projection, parquet + README round trip, card, determinism."""

from __future__ import annotations

import hashlib
import json
import re
import random
import unicodedata
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import regex
from click.testing import CliRunner
from datasets import load_dataset
from hypothesis import given, settings
from hypothesis import strategies as st

from dataset_builder import build as build_module
from dataset_builder.build import bio as build_bio
from dataset_builder.build import tokens as build_tokens
from dataset_builder.build import build_dataset, load_built, spans_to_bio, tokenize, tokenize_batch, tokens_of
from dataset_builder.cli import cli
from dataset_builder.errors import InputError, SchemaError
from dataset_builder.jsonl import write_jsonl
from dataset_builder.records import GOLD, Annotation, Article, EntitySpan, SPLIT_NAMES, SplitManifest, StanceLabel
from dataset_builder.schema import load_schema
from dataset_builder.splits import assign_splits, check_splits, write_manifest

SCHEMA = load_schema("entities_stance")
ENTITY_LABELS = SCHEMA.entity_labels  # PER, ORG, LOC, MISC


def span(text: str, surface: str, label: str, occurrence: int = 0) -> EntitySpan:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(surface, start + 1)
    return EntitySpan(start, start + len(surface), label, surface)


def stance(text: str, surface: str, label: str) -> StanceLabel:
    start = text.index(surface)
    return StanceLabel(start, start + len(surface), surface, label)


PEOPLE = ["Angela Merkel", "Emmanuel Macron", "Ursula von der Leyen", "Olaf Scholz", "Giorgia Meloni"]
ORGS = ["the European Central Bank", "Siemens", "the United Nations", "Volkswagen"]
PLACES = ["Berlin", "Paris", "Brussels", "Rome", "Frankfurt"]


def make_gold(n_articles: int = 12, seed: int = 0) -> tuple[list[Article], list[Annotation]]:
    """Articles of three segments, each naming a person, an organisation and a place, with a
    stance toward the person; labels and names vary with a seeded generator."""
    rng = random.Random(seed)
    articles, gold = [], []
    for a in range(n_articles):
        article_id = f"art-{a:02d}"
        texts = []
        for k in range(3):
            per, org, loc = rng.choice(PEOPLE), rng.choice(ORGS), rng.choice(PLACES)
            text = f"{per} criticised {org} in {loc} on day {a * 3 + k} (report {rng.randrange(1000)})."
            texts.append(text)
            gold.append(
                Annotation(
                    segment_id=f"{article_id}-{k}",
                    article_id=article_id,
                    text=text,
                    annotator=GOLD,
                    entities=(span(text, per, "PER"), span(text, org, "ORG"), span(text, loc, "LOC")),
                    stances=(stance(text, per, rng.choice(SCHEMA.stance_labels)),),
                )
            )
        articles.append(Article(id=article_id, text=" ".join(texts)))
    return articles, gold


NORMALISE_REPORT = {  # the shape normalise writes; build treats it as opaque
    "tasks": {"read": 40, "kept": 36},
    "agreement": {
        "entities": {"pairwise_f1": [{"a": "1", "b": "2", "f1": 0.83, "tasks": 20}]},
        "stance": {"krippendorff_alpha": 0.71, "units": 30, "note": None,
                   "pairwise_cohen_kappa": [{"a": "1", "b": "2", "kappa": 0.68, "n": 30}, {"a": "1", "b": "3", "kappa": None, "n": 2}]},
    },
    "rejected": {"tasks.cancelled": 3, "results.span_past_end": 1},
}


def sha256s(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    articles, gold = make_gold()
    manifest = assign_splits(gold, articles).manifest
    out = tmp_path_factory.mktemp("dataset")
    report = build_dataset(
        gold, manifest, SCHEMA, out, version="1.2.3", normalise_report=NORMALISE_REPORT,
        license="cc-by-4.0", citation="@misc{news2025, title = {News}}",
    )
    return {"articles": articles, "gold": gold, "manifest": manifest, "out": out, "report": report,
            "cache": tmp_path_factory.mktemp("hf-cache")}


# --------------------------------------------------------------------------- tokeniser


# Pieces that make grapheme clusters of several code points: combining marks, ZWJ and emoji, regional
# indicators (flags), variation selectors and skin tones, a keycap, Devanagari with virama, Hangul jamo
CLUSTER_PIECES = ["\u0301", "\u0300", "\u0323", "\u200d", "\U0001F468", "\U0001F469", "\U0001F1EC", "\U0001F1E7",
                  "\ufe0f", "\U0001F3FD", "\u20e3", "\u0928", "\u094d", "\u0926", "\u0930", "\u1100", "\u1161",
                  "\u263a", "1", "e", "o", "U.S.", "n't", "'s", "\u2019s", "-", ".", ",", "\"", "(", ")", " ", "  ", "\n",
                  "\u00a0", "Nokia", "Kohl-led", "1996-12-06", "bob@x.com", "https://a.b/c", "@", "www."]
texts_with_clusters = st.lists(st.sampled_from(CLUSTER_PIECES), max_size=14).map("".join)


def _cluster_interiors(text: str) -> set[int]:
    """Positions strictly inside a grapheme cluster, except those right after whitespace in it."""
    inside = set()
    for m in regex.finditer(r"\X", text):
        inside.update(k for k in range(m.start() + 1, m.end()) if not text[k - 1].isspace())
    return inside


@settings(max_examples=400, deadline=None)
@given(st.lists(texts_with_clusters | st.text(max_size=30), min_size=1, max_size=4))
def test_property_tokens_keep_clusters_whole_with_exact_code_point_offsets(texts):
    batch = tokenize_batch(texts)
    tokens = batch.tokens.to_pylist()
    for i, text in enumerate(texts):
        lo, hi = batch.offsets[i], batch.offsets[i + 1]
        got = list(zip(tokens[lo:hi], batch.starts[lo:hi].tolist(), batch.ends[lo:hi].tolist()))
        one_by_one = tokenize(text)  # texts are tokenised together: no token crosses from one to the next
        assert got == list(zip(*one_by_one))
        covered = set()
        previous_end = 0
        for t, s, e in got:
            assert text[s:e] == t and e - s == len(t) and previous_end <= s < e  # code points, in order
            assert not any(c.isspace() for c in t)  # whitespace is never in a token
            covered.update(range(s, e))
            previous_end = e
        assert {k for k, c in enumerate(text) if not c.isspace()} == covered  # every other character is
        inside = _cluster_interiors(text)
        assert not any(s in inside or e in inside for _, s, e in got), (text, got)  # no cluster is split


def test_the_issue_cases_are_one_token_each_and_news_follows_conll():
    for word in ("Ade\u0301ba\u0301yo\u0323\u0300", "\U0001F1EC\U0001F1E7", "\U0001F468\u200d\U0001F469\u200d\U0001F467",
                 "\u0928\u0930\u0947\u0928\u094d\u0926\u094d\u0930", "\u263a\ufe0f", "1\ufe0f\u20e3"):
        text = unicodedata.normalize("NFC", f"Hello {word} said")
        assert tokenize(text)[0] == ["Hello", unicodedata.normalize("NFC", word), "said"], word
    assert tokenize("U.S. officials didn't see Nokia's profit on 1996-12-06 in Kohl-led Bonn.")[0] == [
        "U.S.", "officials", "did", "n't", "see", "Nokia", "'s", "profit", "on", "1996-12-06", "in", "Kohl-led", "Bonn", "."]


def test_tokens_count_code_points_not_utf16_units():
    tokens, starts, ends = tokenize("\U0001F600 Merkel, U.S.")
    assert tokens == ["\U0001F600", "Merkel", ",", "U.S."]
    assert starts == [0, 2, 8, 10] and ends == [1, 8, 9, 14]
    assert tokenize_batch([]).offsets.tolist() == [0]


def test_given_tokens_are_kept_exactly_and_the_others_tokenised():
    texts = ["U.S. didn't", "U.S. didn't", "Kohl-led Bonn"]
    got = tokens_of(texts, [((0, 4), (5, 11)), None, ((0, 4), (4, 8), (9, 13))])
    assert got.tokens.to_pylist() == ["U.S.", "didn't", "U.S.", "did", "n't", "Kohl", "-led", "Bonn"]
    assert got.offsets.tolist() == [0, 2, 5, 8] and got.starts.tolist() == [0, 5, 0, 5, 8, 0, 4, 9]
    assert tokens_of(texts, [None] * 3).tokens.to_pylist() == tokenize_batch(texts).tokens.to_pylist()


def test_the_tokeniser_and_its_version_are_in_the_card_and_the_fingerprint(built, tmp_path, monkeypatch):
    from dataset_builder.build import dataset as build_dataset_module

    out = built["out"]
    meta = pq.read_schema(out / "ner" / "train.parquet").metadata
    assert meta[build_dataset_module.TOKENISER_KEY] == build_tokens.TOKENISER.encode("utf-8")
    assert "nltk" not in build_tokens.TOKENISER and "spacy 3." in build_tokens.TOKENISER
    assert f"`{build_tokens.TOKENISER}`" in (out / "DATASET_CARD.md").read_text("utf-8")
    articles, gold = make_gold(4)
    manifest = assign_splits(gold, articles).manifest
    first = build_dataset(gold, manifest, SCHEMA, tmp_path / "a", license="cc-by-4.0").fingerprint
    assert build_dataset(gold, manifest, SCHEMA, tmp_path / "b", license="cc-by-4.0").fingerprint == first
    monkeypatch.setattr(build_dataset_module, "TOKENISER", build_tokens.TOKENISER.replace("spacy 3.", "spacy 4."))
    assert build_dataset(gold, manifest, SCHEMA, tmp_path / "c", license="cc-by-4.0").fingerprint != first


def test_a_span_edge_inside_a_cluster_is_expanded_and_counted():
    text = unicodedata.normalize("NFC", "Ade\u0301ba\u0301yo\u0323\u0300 won")
    cut = text.index("\u0300")  # the annotator's selection stops before the last combining mark
    p = spans_to_bio(text, [EntitySpan(0, cut, "PER", text[:cut])], ENTITY_LABELS)
    assert p.tokens[0] == text[:cut + 1] and p.tags == ("B-PER", "O") and p.span_status == ("kept_expanded",)


# --------------------------------------------------------------------------- BIO projection

TEXT = "The Bank of England said New York's own Acme fell."
#       The | Bank | of | England | said | New | York | 's | own | Acme | fell | .


def bio(spans):
    return spans_to_bio(TEXT, spans, ENTITY_LABELS)


def test_aligned_spans_give_b_and_i_tags():
    p = bio([span(TEXT, "Bank of England", "ORG"), span(TEXT, "Acme", "ORG")])
    assert p.tags == ("O", "B-ORG", "I-ORG", "I-ORG", "O", "O", "O", "O", "O", "B-ORG", "O", "O")
    assert p.span_status == ("kept_aligned", "kept_aligned")


def test_span_crossing_token_boundaries_is_expanded_to_covering_tokens():
    start = TEXT.index("ew York")  # starts inside "New", ends inside "York"
    p = bio([EntitySpan(start, start + len("ew Yo"), "LOC", "ew Yo")])
    assert p.tags[5:7] == ("B-LOC", "I-LOC") and p.tags.count("O") == len(p.tags) - 2
    assert p.span_status == ("kept_expanded",)


def test_nested_span_is_dropped_and_the_longest_kept():
    p = bio([span(TEXT, "England", "LOC"), span(TEXT, "Bank of England", "ORG")])
    assert p.tags[1:4] == ("B-ORG", "I-ORG", "I-ORG")
    assert p.span_status == ("dropped_nested", "kept_aligned")  # input order


def test_overlapping_spans_keep_the_longest_then_the_earliest():
    longer = span(TEXT, "York's own Acme", "ORG")  # 4 tokens
    shorter = span(TEXT, "New York", "LOC")  # 2 tokens, crosses it
    p = bio([shorter, longer])
    assert p.tags[5:10] == ("O", "B-ORG", "I-ORG", "I-ORG", "I-ORG")
    assert p.span_status == ("dropped_crossing", "kept_aligned")
    # Same length (2 tokens each): the earlier one wins.
    p = bio([span(TEXT, "of England", "MISC"), span(TEXT, "Bank of", "ORG")])
    assert p.tags[1:4] == ("B-ORG", "I-ORG", "O") and p.span_status == ("dropped_crossing", "kept_aligned")


def test_same_tokens_other_label_keeps_config_order_and_duplicates_are_counted():
    acme_org, acme_per = span(TEXT, "Acme", "ORG"), span(TEXT, "Acme", "PER")
    p = bio([acme_org, acme_per, acme_per])
    assert p.tags[9] == "B-PER"  # PER comes before ORG in the config
    assert p.span_status == ("dropped_nested", "kept_aligned", "dropped_duplicate")


def test_adjacent_entities_of_one_label_start_with_b_each():
    text = "Merkel Macron met."
    p = spans_to_bio(text, [span(text, "Merkel", "PER"), span(text, "Macron", "PER")], ENTITY_LABELS)
    assert p.tags == ("B-PER", "B-PER", "O", "O")


def test_whitespace_only_span_is_dropped_and_counted():
    text = "Merkel  met"
    p = spans_to_bio(text, [EntitySpan(6, 8, "MISC", "  ")], ENTITY_LABELS)
    assert p.tags == ("O", "O") and p.span_status == ("dropped_no_token",)


def bio_oracle(text, spans, labels):
    """The projection rule written out plainly, span by span and token by token."""
    _, starts, ends = tokenize(text)
    toks = list(zip(starts, ends))
    status = [None] * len(spans)
    candidates = []
    for i, sp in enumerate(spans):
        covered = [j for j, (s, e) in enumerate(toks) if s < sp.end and e > sp.start]
        if not covered:
            status[i] = "dropped_no_token"
            continue
        a, b = covered[0], covered[-1] + 1
        aligned = toks[a][0] == sp.start and toks[b - 1][1] == sp.end
        candidates.append((-(b - a), a, labels.index(sp.label), sp.start, sp.end, i, b, aligned))
    kept = []
    for _, a, lab, _, _, i, b, aligned in sorted(candidates):
        overlapping = [(ka, kb, kl) for ka, kb, kl in kept if a < kb and ka < b]
        if not overlapping:
            kept.append((a, b, lab))
            status[i] = "kept_aligned" if aligned else "kept_expanded"
        elif (a, b, lab) in overlapping:
            status[i] = "dropped_duplicate"
        elif any(ka <= a and b <= kb for ka, kb, _ in overlapping):
            status[i] = "dropped_nested"
        else:
            status[i] = "dropped_crossing"
    tags = ["O"] * len(toks)
    for a, b, lab in kept:
        tags[a : b] = [f"B-{labels[lab]}"] + [f"I-{labels[lab]}"] * (b - a - 1)
    return tuple(tags), tuple(status)


@st.composite
def text_and_spans(draw):
    text = draw(st.text(alphabet="ab .-'\n😀\u0301\u200d", min_size=1, max_size=25))
    spans = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append(EntitySpan(start, end, draw(st.sampled_from(ENTITY_LABELS)), text[start:end]))
    return text, spans


@settings(max_examples=300, deadline=None)
@given(text_and_spans())
def test_property_bio_projection_follows_the_stated_rule(case):
    text, spans = case
    p = spans_to_bio(text, spans, ENTITY_LABELS)
    assert (p.tags, p.span_status) == bio_oracle(text, spans, list(ENTITY_LABELS))


@settings(max_examples=150, deadline=None)
@given(st.lists(text_and_spans(), min_size=1, max_size=5))
def test_property_projecting_many_texts_at_once_equals_one_by_one(cases):
    import numpy as np

    tok = tokenize_batch([t for t, _ in cases])
    spans = [(i, sp) for i, (_, sps) in enumerate(cases) for sp in sps]
    tags, status = build_bio._project(
        tok,
        np.array([i for i, _ in spans], dtype=np.int64),
        np.array([sp.start for _, sp in spans], dtype=np.int64),
        np.array([sp.end for _, sp in spans], dtype=np.int64),
        np.array([ENTITY_LABELS.index(sp.label) for _, sp in spans], dtype=np.int64),
    )
    names = build_module.bio_names(ENTITY_LABELS)
    k = 0
    for i, (text, sps) in enumerate(cases):
        want_tags, want_status = bio_oracle(text, sps, list(ENTITY_LABELS))
        lo, hi = tok.offsets[i], tok.offsets[i + 1]
        assert tuple(names[t] for t in tags[lo:hi].tolist()) == want_tags
        assert tuple(build_module.SPAN_STATUSES[x] for x in status[k : k + len(sps)].tolist()) == want_status
        k += len(sps)


def test_unknown_label_is_refused():
    with pytest.raises(SchemaError, match=r"entity label 'PERSON' is not one of \['PER', 'ORG', 'LOC', 'MISC'\]"):
        bio([EntitySpan(0, 3, "PERSON", "The")])


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("split", SPLIT_NAMES)
def test_load_dataset_round_trip_ner(built, split):
    ds = load_dataset(str(built["out"]), "ner", split=split, cache_dir=str(built["cache"]))
    members = set(built["manifest"].splits[split])
    gold = {g.segment_id: g for g in built["gold"] if g.article_id in members}
    assert ds.num_rows == len(gold) > 0
    names = ds.features["ner_tags"].feature.names
    assert names == ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    for row in ds:
        g = gold[row["id"]]
        assert row["article_id"] == g.article_id and row["text"] == g.text
        assert row["tokens"] == [g.text[s:e] for s, e in zip(row["token_starts"], row["token_ends"])]
        assert row["spans"] == [e.to_dict() for e in g.entities]
        tags = [names[t] for t in row["ner_tags"]]
        for e in g.entities:  # every generated span is token-aligned and disjoint: B then I's
            covered = [i for i, (s, t) in enumerate(zip(row["token_starts"], row["token_ends"])) if s < e.end and t > e.start]
            assert [tags[i] for i in covered] == [f"B-{e.label}"] + [f"I-{e.label}"] * (len(covered) - 1)
        assert sum(t.startswith("B-") for t in tags) == len(g.entities)


@pytest.mark.parametrize("split", SPLIT_NAMES)
def test_load_dataset_round_trip_stance(built, split):
    ds = load_dataset(str(built["out"]), "stance", split=split, cache_dir=str(built["cache"]))
    members = set(built["manifest"].splits[split])
    expected = {
        f"{g.segment_id}@{s.target_start}-{s.target_end}": (g, s) for g in built["gold"] if g.article_id in members for s in g.stances
    }
    assert ds.num_rows == len(expected) > 0
    assert ds.features["label"].names == ["favor", "against", "neutral"]
    for row in ds:
        g, s = expected[row["id"]]
        assert (row["segment_id"], row["article_id"], row["text"]) == (g.segment_id, g.article_id, g.text)
        assert (row["target"], row["target_start"], row["target_end"]) == (s.target_text, s.target_start, s.target_end)
        assert ds.features["label"].int2str(row["label"]) == s.label


def test_parquet_carries_the_declared_features_and_no_pandas_metadata(built):
    schema = pq.read_schema(built["out"] / "stance" / "test.parquet")
    assert set(schema.metadata) == {b"huggingface", b"dataset_builder.stance_task"}
    assert json.loads(schema.metadata[b"huggingface"])["info"]["features"]["label"]["names"] == ["favor", "against", "neutral"]
    assert json.loads(schema.metadata[b"dataset_builder.stance_task"]) == {
        "metric": "f_avg", "roles": {"against": "against", "favor": "favor"}, "target_kind": "span"}


def test_two_builds_are_byte_identical_whatever_the_input_order(built, tmp_path):
    shuffled = list(built["gold"])
    random.Random(5).shuffle(shuffled)
    build_dataset(shuffled, built["manifest"], SCHEMA, tmp_path, version="1.2.3", normalise_report=NORMALISE_REPORT,
                  license="cc-by-4.0", citation="@misc{news2025, title = {News}}")
    first, second = sha256s(built["out"]), sha256s(tmp_path)
    assert [p for p in first if p.endswith(".parquet")] == [f"{c}/{s}.parquet" for c in ("ner", "stance") for s in sorted(SPLIT_NAMES)]
    assert first == second


def test_fingerprint_matches_the_scoring_definition(built):
    scoring = pytest.importorskip("dataset_builder.scoring")
    assert built["report"].fingerprint == scoring.dataset_fingerprint(built["out"])
    assert (built["out"] / "dataset_version.txt").read_text() == "1.2.3\n"


# --------------------------------------------------------------------------- card


def test_card_reports_the_counts_and_distributions_of_the_data(built):
    card = (built["out"] / "DATASET_CARD.md").read_text()
    readme = (built["out"] / "README.md").read_text()
    assert readme.startswith("---\n") and readme.endswith(card)
    for config in ("ner", "stance"):
        for split in SPLIT_NAMES:
            table = pq.read_table(built["out"] / config / f"{split}.parquet")
            articles = len(set(table.column("article_id").to_pylist()))
            tokens = sum(len(t) for t in table.column("tokens").to_pylist()) if config == "ner" else ""
            assert f"| {config} | {split} | {table.num_rows} | {articles} | {tokens} |" in card
    for i, label in enumerate(SCHEMA.stance_labels):
        per_split = [pq.read_table(built["out"] / "stance" / f"{s}.parquet").column("label").to_pylist().count(i) for s in SPLIT_NAMES]
        assert f"| {label} | " + " | ".join(map(str, per_split)) + " |" in card
    spans = {s: [e["label"] for row in pq.read_table(built["out"] / "ner" / f"{s}.parquet").column("spans").to_pylist() for e in row] for s in SPLIT_NAMES}
    assert "| PER | " + " | ".join(f"{spans[s].count('PER')} / {spans[s].count('PER')}" for s in SPLIT_NAMES) + " |" in card


def test_card_has_agreement_rejections_guidelines_policy_licence_citation_and_plot(built):
    card = (built["out"] / "DATASET_CARD.md").read_text()
    assert "| stance / krippendorff_alpha | 0.71 |" in card and "| stance / note | n/a |" in card
    assert "entities / pairwise_f1:\n\n| a | b | f1 | tasks |\n|---|---|---|---|\n| 1 | 2 | 0.83 | 20 |" in card
    assert "| 1 | 2 | 0.68 | 30 |\n| 1 | 3 | n/a | 2 |" in card
    assert "| tasks.cancelled | 3 |" in card and "| results.span_past_end | 1 |" in card
    assert "> 2. Click a marked entity, then choose the stance" in card
    assert "Ratios (train/validation/test): 0.8 / 0.1 / 0.1; salt `dataset-builder`" in card
    assert f"Gold data hash at split time: `{built['manifest'].data_sha256}`" in card
    assert "`cc-by-4.0`" in card and "@misc{news2025, title = {News}}" in card
    assert f"fingerprint `{built['report'].fingerprint}`" in card
    assert "![Label distribution per split](label_distribution.png)" in card
    assert (built["out"] / "label_distribution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| kept_aligned | 108 |" in card  # 36 segments x 3 aligned spans


# --------------------------------------------------------------------------- edge cases


def test_empty_split_is_a_zero_row_parquet_with_the_schema_and_still_loads(tmp_path):
    articles, gold = make_gold(n_articles=2)
    manifest = assign_splits(gold, articles).manifest
    assert manifest.splits["validation"] == ()
    report = build_dataset(gold, manifest, SCHEMA, tmp_path / "ds")
    table = pq.read_table(tmp_path / "ds" / "ner" / "validation.parquet")
    assert table.num_rows == 0 and table.schema.names == ["id", "article_id", "title", "date", "source", "url", "text",
                                                          "tokens", "token_starts", "token_ends", "ner_tags", "spans"]
    assert report.ner_rows["validation"] == 0
    yaml_header = (tmp_path / "ds" / "README.md").read_text().split("\n---\n", 1)[0]
    assert "ner/train.parquet" in yaml_header and "ner/validation.parquet" not in yaml_header
    whole = load_dataset(str(tmp_path / "ds"), "stance", cache_dir=str(tmp_path / "cache"))
    assert sorted(whole) == ["test", "train"]
    every = load_built(tmp_path / "ds", "ner", cache_dir=tmp_path / "cache")
    assert every["validation"].num_rows == 0
    assert every["validation"].features == every["train"].features
    assert "Empty splits (ner/validation, stance/validation)" in (tmp_path / "ds" / "DATASET_CARD.md").read_text()


def test_held_out_articles_are_excluded_and_counted(tmp_path):
    articles, gold = make_gold(n_articles=4)
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1),
                             splits={"train": ("art-00", "art-01"), "validation": ("art-02",), "test": ()},
                             held_out={"art-03": "in a near-duplicate cluster whose articles are already in train and validation"})
    report = build_dataset(gold, manifest, SCHEMA, tmp_path)
    assert report.segments_held_out == 3 and report.spans["held_out"] == 9 and report.stances["held_out"] == 3
    assert sum(report.ner_rows.values()) == 9 and sum(report.stance_rows.values()) == 9
    ids = {a for s in SPLIT_NAMES for a in pq.read_table(tmp_path / "ner" / f"{s}.parquet").column("article_id").to_pylist()}
    assert ids == {"art-00", "art-01", "art-02"}
    assert "`art-03`: in a near-duplicate cluster whose articles are already in train and validation" in (tmp_path / "DATASET_CARD.md").read_text()


def test_repeated_and_conflicting_stance_targets_are_counted(tmp_path):
    text = "Merkel praised Macron."
    gold = [Annotation("a-0", "a", text, GOLD, stances=(stance(text, "Merkel", "favor"), stance(text, "Merkel", "favor"),
                                                       stance(text, "Macron", "favor"), stance(text, "Macron", "against")))]
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a",), "validation": (), "test": ()})
    report = build_dataset(gold, manifest, SCHEMA, tmp_path)
    assert report.stances == {"read": 4, "held_out": 0, "dropped_duplicate": 1, "dropped_conflicting": 2, "kept": 1}
    assert pq.read_table(tmp_path / "stance" / "train.parquet").column("id").to_pylist() == ["a-0@0-6"]


def test_article_missing_from_manifest_is_an_error(tmp_path):
    articles, gold = make_gold(n_articles=2)
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("art-00",), "validation": (), "test": ()})
    with pytest.raises(InputError, match=r"1 gold article\(s\) are in no split of the manifest \(art-01\); run `dataset-builder split`"):
        build_dataset(gold, manifest, SCHEMA, tmp_path)


def test_no_gold_is_an_error(tmp_path):
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": (), "validation": (), "test": ()})
    with pytest.raises(InputError, match=r"No gold annotations to build from"):
        build_dataset([], manifest, SCHEMA, tmp_path)


def test_label_outside_the_config_is_an_error(tmp_path):
    text = "Merkel spoke."
    gold = [Annotation("a-0", "a", text, GOLD, entities=(span(text, "Merkel", "PERSON"),))]
    manifest = SplitManifest(salt="s", ratios=(0.8, 0.1, 0.1), splits={"train": ("a",), "validation": (), "test": ()})
    with pytest.raises(SchemaError, match=r"entity label 'PERSON' is not in config 'entities_stance'"):
        build_dataset(gold, manifest, SCHEMA, tmp_path)


def test_stance_only_config_builds_only_the_stance_configuration(tmp_path):
    articles, gold = make_gold(n_articles=3)
    gold = [Annotation(g.segment_id, g.article_id, g.text, GOLD, stances=g.stances) for g in gold]
    report = build_dataset(gold, assign_splits(gold, articles).manifest, load_schema("target_stance"), tmp_path)
    assert report.configs == ("stance",) and not (tmp_path / "ner").exists()
    assert "config_name: ner" not in (tmp_path / "README.md").read_text()


# --------------------------------------------------------------------------- leakage and stability of the built dataset


def test_built_dataset_passes_the_leak_check_and_a_moved_article_fails_it(built):
    assert check_splits(built["manifest"], built["gold"], built["articles"], dataset_dir=built["out"]).ok
    m = built["manifest"]
    moved_id = m.splits["test"][0]
    moved = SplitManifest(salt=m.salt, ratios=m.ratios, splits={
        "train": tuple(sorted(m.splits["train"] + (moved_id,))), "validation": m.splits["validation"],
        "test": tuple(a for a in m.splits["test"] if a != moved_id)})
    problems = check_splits(moved, built["gold"], built["articles"], dataset_dir=built["out"]).problems
    assert f"article {moved_id} is in ner/test.parquet but the manifest puts it in train." in problems


def test_adding_articles_to_a_built_dataset_moves_no_existing_article(built, tmp_path):
    more_articles, more_gold = make_gold(n_articles=30, seed=1)  # art-00..art-29: 12 old ids + 18 new
    old_ids = {a.id for a in built["articles"]}
    extra = [g for g in more_gold if g.article_id not in old_ids]
    gold = built["gold"] + extra
    articles = built["articles"] + [a for a in more_articles if a.id not in old_ids]
    manifest = assign_splits(gold, articles, previous=built["manifest"]).manifest
    build_dataset(gold, manifest, SCHEMA, tmp_path)

    def where(folder: Path) -> dict[str, str]:
        return {a: s for s in SPLIT_NAMES for a in pq.read_table(folder / "ner" / f"{s}.parquet").column("article_id").to_pylist()}

    before, after = where(built["out"]), where(tmp_path)
    assert len(after) == 30 and {a: after[a] for a in before} == before


# --------------------------------------------------------------------------- CLI


def test_cli_build_writes_the_folder_and_reports_errors_in_one_line(tmp_path):
    articles, gold = make_gold(n_articles=4)
    write_jsonl(tmp_path / "gold.jsonl", [g.to_dict() for g in gold])
    write_manifest(assign_splits(gold, articles).manifest, tmp_path / "splits" / "manifest.json")
    (tmp_path / "normalise_report.json").write_text(json.dumps(NORMALISE_REPORT))
    runner = CliRunner()
    args = ["build", str(tmp_path / "gold.jsonl"), "--splits", str(tmp_path / "splits" / "manifest.json"),
            "-o", str(tmp_path / "ds"), "--normalise-report", str(tmp_path / "normalise_report.json"), "--version", "2.0.0"]
    result = runner.invoke(cli, [*args, "--config", "entities_stance"])
    assert result.exit_code == 0, result.output
    assert "built ner, stance v2.0.0" in result.output
    line = next(x for x in result.output.splitlines() if x.startswith("built "))
    assert not re.search(r"[{}']", line), line  # counts in words, not a Python dict
    import pyarrow.parquet as pq

    rows = {c: ", ".join(f"{s} {pq.read_metadata(tmp_path / 'ds' / c / f'{s}.parquet').num_rows}"
                         for s in ("train", "validation", "test")) for c in ("ner", "stance")}
    assert f"ner rows {rows['ner']}; stance rows {rows['stance']}; entity spans read " in line, line
    assert (tmp_path / "ds" / "dataset_version.txt").read_text() == "2.0.0\n"
    bad = runner.invoke(cli, [*args, "--config", "no_such_config"])
    assert bad.exit_code == 1 and bad.output.startswith("error: unknown labelling config 'no_such_config'")
    assert len(bad.output.strip().splitlines()) == 1
