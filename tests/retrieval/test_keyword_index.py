from __future__ import annotations

import numpy as np

from oui_jupyter.store.keyword_index import KeywordIndex, tokenize


def test_tokenize_splits_identifiers_and_drops_stopwords():
    assert tokenize("def loadJSONFile(path_name): the HTTPServer") == [
        "def",
        "load",
        "json",
        "file",
        "path",
        "name",
        "http",
        "server",
    ]
    assert tokenize("colonies penguins") == tokenize("colony penguin")


def test_bm25_ranks_rare_terms_and_tf():
    k = KeywordIndex()
    texts = ["the cat sat on the mat", "dog dog dog barks", "a cat and a dog", "zebra crossing"]
    k.add(range(4), texts)
    rows, scores = k.search("dog", 10)
    assert rows.tolist() == [1, 2]
    assert scores[0] > scores[1] > 0
    rows, _ = k.search("zebra cat", 10)
    assert rows[0] == 3  # the rarest term wins
    assert set(rows.tolist()) == {0, 2, 3}


def test_incremental_segments_merge_and_mask():
    k = KeywordIndex(max_segments=3)
    for i in range(20):
        k.add([i], [f"document about {['red', 'green', 'blue', 'cyan'][i % 4]}"])
    assert k.stats()["segments"] <= 3
    rows, _ = k.search("green", 10)
    assert sorted(rows.tolist()) == [1, 5, 9, 13, 17]
    mask = np.ones(20, bool)
    mask[[5, 9]] = False
    rows, _ = k.search("green", 10, mask=mask)
    assert sorted(rows.tolist()) == [1, 13, 17]


def test_compact_renumbers_rows():
    k = KeywordIndex()
    k.add([0, 1, 2, 3], ["alpha", "beta", "gamma alpha", "delta"])
    alive = np.array([False, True, True, True])
    k.compact(alive)
    rows, _ = k.search("alpha", 5)
    assert rows.tolist() == [1]  # old row 2 is now row 1
    k.add([3], ["alpha again"])
    assert sorted(k.search("alpha", 5)[0].tolist()) == [1, 3]


def test_large_index_top_n_is_exact():
    rng = np.random.default_rng(0)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocab = ["".join(rng.choice(letters, 6)) for _ in range(500)]
    texts = [" ".join(rng.choice(vocab, 30)) for _ in range(3000)]
    k = KeywordIndex()
    for i in range(0, 3000, 500):
        k.add(range(i, i + 500), texts[i : i + 500])
    query = f"{vocab[7]} {vocab[42]}"
    rows, scores = k.search(query, 10)
    full_rows, full_scores = k.search(query, 3000)
    assert np.allclose(scores, full_scores[:10])
    assert set(rows.tolist()) <= set(full_rows.tolist())
    assert len(full_rows) > 100
    assert np.all(np.diff(full_scores) <= 1e-6)
