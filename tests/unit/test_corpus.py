"""The shipped training corpus (router/data/seed*.jsonl): labels, balance, no near-duplicates."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from router.model import default_eval_file, default_seed_files, read_jsonl, read_seed
from services.taxonomy import load_taxonomy
from services.text import fold

#: Two complaints sharing this share of their character trigrams (Jaccard) count as near-duplicates.
NEAR_DUPLICATE = 0.6


def _trigram_jaccard(a: list[str], b: list[str]) -> np.ndarray:
    """Jaccard overlap of the sets of character trigrams of the folded texts, every a against every b."""
    vectorizer = CountVectorizer(
        analyzer="char", ngram_range=(3, 3), binary=True, preprocessor=fold, lowercase=False
    )
    vectorizer.fit(a + b)
    x, y = vectorizer.transform(a), vectorizer.transform(b)
    shared = (x @ y.T).toarray()
    sizes_a = np.asarray(x.sum(axis=1)).ravel()
    sizes_b = np.asarray(y.sum(axis=1)).ravel()
    union = sizes_a[:, None] + sizes_b[None, :] - shared
    return np.asarray(shared / np.maximum(union, 1))


def test_every_label_is_a_category_and_each_has_enough_examples() -> None:
    categories = set(load_taxonomy().categories)
    first, more, extra = (read_jsonl(path) for path in default_seed_files())
    assert {e.label for e in first} == {e.label for e in more} == {e.label for e in extra} == categories
    assert min(Counter(e.label for e in more).values()) >= 60
    # The third file is aimed at the categories the model confused: every one has some, none is empty.
    assert min(Counter(e.label for e in extra).values()) >= 10
    assert len(read_seed()) == len(first) + len(more) + len(extra)


def test_each_later_file_repeats_nothing() -> None:
    files = [[e.text for e in read_jsonl(path)] for path in default_seed_files()]
    for n, later in enumerate(files[1:], 1):
        earlier = [text for texts in files[:n] for text in texts]
        pairs = np.argwhere(_trigram_jaccard(later, earlier) >= NEAR_DUPLICATE)
        assert not len(pairs), [(later[i], earlier[j]) for i, j in pairs[:5]]
        within = np.triu(_trigram_jaccard(later, later), k=1)
        pairs = np.argwhere(within >= NEAR_DUPLICATE)
        assert not len(pairs), [(later[i], later[j]) for i, j in pairs[:5]]


def test_no_training_line_nearly_repeats_an_evaluation_line() -> None:
    # Only the training side is shown on failure: eval.jsonl is not read to write training text.
    training = [e.text for e in read_seed()]
    overlap = _trigram_jaccard(training, [e.text for e in read_jsonl(default_eval_file())])
    close = sorted({int(i) for i in np.argwhere(overlap >= NEAR_DUPLICATE)[:, 0]})
    assert not close, [training[i] for i in close[:5]]
