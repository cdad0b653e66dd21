"""Writes crates/embed/tests/fixtures/sklearn_tfidf.json: 320 short documents and
scikit-learn's TfidfVectorizer output for several option sets, which
crates/embed/tests/sklearn_tfidf.rs must reproduce to 1e-6.

The documents are movie-review-like sentences assembled (seeded, reproducible) from the
phrase lists below, in Korean morphemes and English words; a few are empty or repeat words.
Tokens are space-separated and scikit-learn splits them the same way (tokenizer=str.split,
lowercase=False), so both sides see identical tokens.

    python3 benches/reference/make_tfidf_fixture.py
"""
import json
import random

from sklearn.feature_extraction.text import TfidfVectorizer

SUBJECTS = ["이 영화 는", "배우 들 의 연기 가", "스토리 가", "감독 은", "음악 이", "결말 이",
            "the movie", "the acting", "this film", "the plot", "주인공 이", "영상미 가"]
VERBS = ["정말 좋 다", "너무 지루 하 다", "최고 였 다", "별로 였 다", "감동 적 이 다",
         "was great", "was boring", "is a masterpiece", "재미 없 다", "다시 보 고 싶 다",
         "기대 이하 다", "시간 가 는 줄 몰랐 다"]
EXTRAS = ["ㅋㅋ", "진짜", "완전", "really", "so", "very", "!", "...", "평점", "10점", "1점",
          "추천", "비추", "강추", "highly", "recommended", "또", "보 고", "싶 다"]


def documents(n=320, seed=2024):
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        if i % 53 == 0:
            docs.append("")
            continue
        parts = []
        for _ in range(rng.randint(1, 3)):
            parts.append(rng.choice(SUBJECTS))
            parts.append(rng.choice(VERBS))
            parts.extend(rng.choice(EXTRAS) for _ in range(rng.randint(0, 3)))
        docs.append(" ".join(parts))
    return docs


CASES = {
    "defaults": {},
    "bigrams_min_df_2": {"ngram_range": (1, 2), "min_df": 2},
    "sublinear_l1_plain_idf": {"sublinear_tf": True, "norm": "l1", "smooth_idf": False},
    "max_df_max_features_no_norm": {"max_df": 0.5, "max_features": None, "norm": None},
    "binary_trigrams_min_df_fraction": {"binary": True, "ngram_range": (2, 3), "min_df": 0.02},
}


def untied_limit(docs, near=40):
    """A max_features value whose cut does not split a tie in total counts: scikit-learn
    ranks by an unstable argsort, so tied terms at the cut are kept in arbitrary order."""
    from sklearn.feature_extraction.text import CountVectorizer
    cv = CountVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, max_df=0.5)
    totals = sorted(cv.fit_transform(docs).sum(axis=0).A1.tolist(), reverse=True)
    return next(k for k in range(near, 0, -1) if totals[k - 1] != totals[k])


def main():
    docs = documents()
    CASES["max_df_max_features_no_norm"]["max_features"] = untied_limit(docs)
    out = {"documents": docs, "cases": []}
    for name, params in CASES.items():
        v = TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, **params)
        x = v.fit_transform(docs).tocsr()
        x.sort_indices()
        out["cases"].append({
            "name": name,
            "params": {k: list(p) if isinstance(p, tuple) else p for k, p in params.items()},
            "vocabulary": v.get_feature_names_out().tolist(),
            "idf": v.idf_.tolist(),
            "indptr": x.indptr.tolist(),
            "indices": x.indices.tolist(),
            "data": x.data.tolist(),
        })
    path = "crates/embed/tests/fixtures/sklearn_tfidf.json"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"wrote {path}: {len(docs)} documents, {len(CASES)} cases")


if __name__ == "__main__":
    main()
