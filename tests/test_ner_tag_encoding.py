"""Tests of the ``crf`` baseline's tag encoding (dataset_builder.baselines.ner): BIO <-> BIOES conversion
against the scorer's conlleval reading, BIO predictions and marginals of a CRF trained on BIOES, and
saved models (new ones and plain BIO CRFs saved before) loading and predicting."""

from __future__ import annotations

import pytest
import sklearn_crfsuite
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from dataset_builder.baselines import (
    TRUSTED_TYPES,
    TagEncodingCRF,
    TokenFeaturizer,
    bio_to_bioes,
    bioes_marginals_to_bio,
    bioes_to_bio,
    load_model,
    make_crf,
    save_model,
)
from dataset_builder.predict import tag_entities
from dataset_builder.scoring.ner import entities_from_tags

TYPES = ("PER", "LOC")
BIO = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]
BIOES = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BIES"]
bio_seqs = st.lists(st.sampled_from(BIO), max_size=14)
bioes_seqs = st.lists(st.sampled_from(BIOES), max_size=14)


def _iob2(tags: list[str]) -> list[str]:
    """The IOB2 tags of the entities the scorer reads in ``tags`` (the oracle)."""
    out = ["O"] * len(tags)
    for typ, start, end in entities_from_tags(tags) if tags else ():
        out[start:end] = ["B-" + typ] + ["I-" + typ] * (end - start - 1)
    return out


def _spans(tags: list[str], **kw) -> list[tuple[str, int, int]]:
    return entities_from_tags(tags, **kw) if tags else []


@settings(max_examples=400, deadline=None)
@given(tags=bio_seqs)
def test_bio_to_bioes_keeps_the_conlleval_entities_well_formed_and_round_trips(tags):
    bioes = bio_to_bioes(tags)
    assert len(bioes) == len(tags)
    assert _spans(bioes) == _spans(tags)
    # every entity is well formed BIOES (strict mode drops malformed ones)
    assert _spans(bioes, mode="strict", labels=BIOES) == _spans(tags)
    assert bioes_to_bio(bioes) == _iob2(tags)


@settings(max_examples=400, deadline=None)
@given(tags=bioes_seqs)
def test_bioes_to_bio_keeps_the_entities_of_any_decoded_sequence(tags):
    bio = bioes_to_bio(tags)
    assert _spans(bio) == _spans(tags)
    assert not any(t.startswith(("E-", "S-")) for t in bio)
    for i, (src, out) in enumerate(zip(tags, bio)):
        if src == "O":
            assert out == "O"
            continue
        typ = src[2:]
        after_end = i > 0 and tags[i - 1] in (f"E-{typ}", f"S-{typ}")
        merged = ("B-" if src[0] in "BS" else "I-") + typ
        # each tag is the BIO label its marginal goes to, except an I-/E- right after an entity of its type ended
        assert out == (f"B-{typ}" if after_end else merged)


def test_conversion_examples_and_errors():
    # IOB1: an I- after O or after another type starts an entity
    assert bio_to_bioes(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == ["B-PER", "E-PER", "O", "S-LOC", "S-LOC", "S-ORG"]
    assert bio_to_bioes(["B-ORG", "I-ORG", "I-ORG", "I-PER"]) == ["B-ORG", "I-ORG", "E-ORG", "S-PER"]
    assert bio_to_bioes([]) == [] and bioes_to_bio([]) == []
    assert bioes_to_bio(["B-ORG", "I-ORG", "E-ORG", "O", "S-PER"]) == ["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"]
    assert bioes_to_bio(["E-PER", "E-PER", "I-LOC"]) == ["I-PER", "B-PER", "I-LOC"]
    for bad in ("PER", "X-PER", "B-", "B_PER"):
        with pytest.raises(ValueError, match="is not an IOB tag"):
            bio_to_bioes(["O", bad])


def test_marginals_are_summed_into_the_bio_labels():
    m = {"O": 0.1, "B-PER": 0.2, "S-PER": 0.3, "I-PER": 0.05, "E-PER": 0.15, "S-LOC": 0.2}
    out = bioes_marginals_to_bio(m)
    assert out == pytest.approx({"O": 0.1, "B-PER": 0.5, "I-PER": 0.2, "B-LOC": 0.2})
    assert sum(out.values()) == pytest.approx(1.0)


PEOPLE = [("Anna", "Novak"), ("Boris", "Berg"), ("Carla", "Costa"), ("Hugo", "Moreau")]
CITIES = ["Paris", "Lima", "Oslo", "Riga"]


def _data(n: int = 40) -> tuple[list[list[str]], list[list[str]]]:
    X, y = [], []
    for i in range(n):
        first, last = PEOPLE[i % 4]
        city = CITIES[(i * 3) % 4]
        if i % 3 == 0:
            X.append([first, last, "visited", city, "."])
            y.append(["B-PER", "I-PER", "O", "B-LOC", "O"])
        elif i % 3 == 1:
            X.append(["In", city, ",", last, "spoke", "."])
            y.append(["O", "B-LOC", "O", "B-PER", "O", "O"])
        else:
            X.append(["New", city, "Bank", "hired", first, "."])
            y.append(["B-ORG", "I-ORG", "I-ORG", "O", "B-PER", "O"])
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return X, y, make_crf(0.05, 0.01).fit(X, y)


def test_crf_trains_on_bioes_and_predicts_bio_tags_and_marginals(fitted):
    X, y, model = fitted
    crf = model.named_steps["crf"]
    assert isinstance(crf, TagEncodingCRF) and crf.tag_encoding == "bioes"
    raw = crf.tagger_.labels()
    assert {"S-PER", "E-PER", "S-LOC", "E-ORG"} <= set(raw)  # the crfsuite model is BIOES
    assert sorted(crf.classes_) == sorted({t for tags in y for t in tags})
    feats = model.named_steps["features"].transform(X)
    predicted = [list(p) for p in model.predict(X)]
    assert predicted == y  # learnable data, and BIO out
    for xseq, tags, marginals in zip(feats, predicted, crf.predict_marginals(feats)):
        assert tags == bioes_to_bio(sklearn_crfsuite.CRF.predict_single(crf, xseq))
        bioes = sklearn_crfsuite.CRF.predict_marginals_single(crf, xseq)
        for m, m_raw, tag in zip(marginals, bioes, tags):
            assert set(m) == set(crf.classes_)
            assert sum(m.values()) == pytest.approx(1.0)
            for label, p in m.items():
                parts = [label] if label == "O" else ([label, "S-" + label[2:]] if label[0] == "B" else [label, "E-" + label[2:]])
                assert p == pytest.approx(sum(m_raw.get(k, 0.0) for k in parts))
            assert max(m, key=m.get) == tag
    assert crf.training_log_ is not None and crf.training_log_.iterations


def test_bio_encoding_is_the_plain_crf_and_params_clone():
    X, y = _data()
    bio = make_crf(0.05, 0.01, tag_encoding="bio").fit(X, y)
    assert set(bio.named_steps["crf"].tagger_.labels()) == {t for tags in y for t in tags}
    copy = clone(make_crf(0.2, 0.03).named_steps["crf"])
    assert (copy.tag_encoding, copy.c1, copy.c2, copy.all_possible_transitions) == ("bioes", 0.2, 0.03, True)
    with pytest.raises(ValueError, match="'tag_encoding' parameter must be one of"):
        make_crf(0.1, 0.01, tag_encoding="iob1").fit(X, y)


def test_saved_bioes_crf_loads_and_predicts_the_same(fitted, tmp_path):
    import skops.io as sio

    X, y, model = fitted
    save_model(model, tmp_path / "ner.crf.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "ner.crf.skops")
    assert "dataset_builder.baselines.ner.TagEncodingCRF" in untrusted and set(untrusted) <= set(TRUSTED_TYPES)
    loaded = load_model(tmp_path / "ner.crf.skops")
    assert loaded.named_steps["crf"].tag_encoding == "bioes"
    assert [list(p) for p in loaded.predict(X)] == [list(p) for p in model.predict(X)]
    feats = model.named_steps["features"].transform(X[:3])
    assert list(loaded.named_steps["crf"].predict_marginals(feats)) == list(model.named_steps["crf"].predict_marginals(feats))


def test_a_plain_bio_crf_saved_before_still_loads_and_pre_annotates(fitted, tmp_path):
    X, y, new = fitted
    old = Pipeline([("features", TokenFeaturizer()),
                    ("crf", sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.05, c2=0.01, all_possible_transitions=True))]).fit(X, y)
    save_model(old, tmp_path / "old.skops")
    loaded = load_model(tmp_path / "old.skops")
    assert type(loaded.named_steps["crf"]) is sklearn_crfsuite.CRF
    assert [list(p) for p in loaded.predict(X)] == y
    texts = [" ".join(tokens) for tokens in X[:3]]
    first, last, _, city, _ = X[0]
    person_end = len(first) + 1 + len(last)
    city_start = texts[0].index(" " + city + " ") + 1
    for model in (loaded, new):  # old BIO and new BIOES CRFs give the same kind of pre-annotations
        out = tag_entities(model, texts, [None] * 3, ["PER", "LOC", "ORG"])
        assert [(e["start"], e["end"], e["label"]) for e in out[0][0]] == [(0, person_end, "PER"), (city_start, city_start + len(city), "LOC")]
        for ents, conf in out:
            assert 0.0 < conf <= 1.0 and ents and all(0.0 < ent["score"] <= 1.0 for ent in ents)
