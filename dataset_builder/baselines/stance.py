"""The stance baselines' text features: the target marked in the text, and ``tfidf_logreg``.

Input
    Rows ``(target, text, given)`` (see :func:`_joined`), or strings already marked by
    :func:`mark_target`.
Output
    :func:`mark_target`, and the unfitted ``tfidf_logreg`` baseline (:func:`make_tfidf_logreg`,
    :class:`TfidfLogReg`).
Invariants
    Deterministic for a seed. Rows without a given target get exactly the pipeline of before
    (target-marked text, TF-IDF, scikit-learn's ``LogisticRegression``). With given targets, each
    distinct text and each distinct target is featurised once and no matrix of all rows is built:
    time and memory grow with the distinct texts, not with the pairs (``benchmarks/stance_pairs.py``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import InputError

TARGET_OPEN = "TGTSTART"
TARGET_CLOSE = "TGTEND"


def mark_target(text: str, start: int, end: int) -> str:
    """``text`` with the stance target ``text[start:end]`` wrapped in marker words.

    ``"Obama spoke"`` with target [0, 5) becomes ``"TGTSTART Obama TGTEND spoke"``, so word
    n-grams see the target and its neighbours.
    """
    if not 0 <= start <= end <= len(text):
        raise InputError(f"target offsets [{start}, {end}) do not fit a text of length {len(text)}; rebuild the dataset.")
    return f"{text[:start]} {TARGET_OPEN} {text[start:end]} {TARGET_CLOSE} {text[end:]}"


def _joined(X: Sequence[Sequence[Any]]) -> list[str]:
    """``(target, text, given)`` rows as one string: the text (a span target is marked in it), or a
    given target between the markers in front of the text. A string row (a text already marked by
    :func:`mark_target`) passes as it is."""
    return [x if isinstance(x, str) else f"{TARGET_OPEN} {x[0]} {TARGET_CLOSE} {x[1]}" if x[2] else x[1] for x in X]



def _vectorizers(max_features: int | None):
    """TF-IDF word 1-2-grams and char_wb 2-5-grams, each capped at ``max_features`` (``tfidf_logreg``'s n-grams)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=max_features),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1,
                            max_features=max_features)]


def unique_rows(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct strings of ``values`` (first-seen order) and each value's index among them."""
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return list(index), rows


#: A block of at most this many distinct rows (and fewer rows than columns) is optimised in its
#: row space (:func:`_row_space`): the same solution with one weight per distinct row and class.
ROW_SPACE_MAX = 4000


def _row_space(M) -> np.ndarray | None:
    """``L`` (lower triangular, ``L @ L.T == M @ M.T``) when ``M`` has fewer rows than columns and at
    most :data:`ROW_SPACE_MAX`; None otherwise or when ``M @ M.T`` is singular or nearly so (rows
    linearly dependent, near-duplicate texts).

    The logistic loss and the L2 penalty of ``M @ w`` depend on ``w`` only through its part in the
    row space of ``M``, where ``w = M.T @ inv(L.T) @ v`` gives ``M @ w = L @ v`` and ``|w| = |v|``:
    the problem on ``L`` is the same, with ``len(M)`` weights per class instead of ``M.shape[1]``,
    and L-BFGS started at 0 takes the same steps (an orthogonal change of coordinates).
    """
    n, d = M.shape
    if n == 0 or n > ROW_SPACE_MAX or n >= d:
        return None
    K = np.asarray((M @ M.T).todense()) if hasattr(M, "todense") else M @ M.T
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return None
    pivots = np.diag(L)
    return L if pivots.min() > 1e-6 * pivots.max() else None  # near-duplicate rows: mapping back would lose digits


class TfidfLogReg(ClassifierMixin, BaseEstimator):
    """The ``tfidf_logreg`` baseline (see :func:`make_tfidf_logreg`).

    Rows without a given target (a span target marked in the text, or a marked string): the
    target-marked text's word and char n-grams and a balanced ``LogisticRegression``, fitted on the
    rows as they are (``joined_``). Rows with a given target (a headline, a claim, a topic) are
    featurised as two blocks, the text's n-grams and the target's, each over its distinct strings
    only (a body paired with 30 headlines is analysed once, and the IDF counts it once), and the
    same multinomial logistic loss (balanced class weights, L2 penalty ``1 / C``, L-BFGS) is
    minimised on the factored design ``[text block][body of row], [target block][target of row]``
    without building the rows' matrix: its scores and gradients go through the distinct texts'
    and targets' matrices. Deterministic.
    """

    def __init__(self, seed: int = 0, max_features: int | None = None, C: float = 10.0, max_iter: int = 2000,
                 tol: float = 1e-4) -> None:
        self.seed = seed
        self.max_features = max_features
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    @staticmethod
    def _sides(X: Sequence[Any]) -> tuple[list[str], list[str]]:
        texts, targets = [], []
        for x in X:
            if isinstance(x, str):
                texts.append(x)
                targets.append("")
            else:
                texts.append(x[1])
                targets.append(str(x[0]) if x[2] else "")
        return texts, targets

    def fit(self, X: Sequence[Any], y: Sequence[Any]) -> "TfidfLogReg":
        from sklearn.linear_model import LogisticRegression

        texts, targets = self._sides(X)
        y = np.asarray([str(v) for v in y], dtype=object)
        if not any(targets):
            from sklearn.pipeline import FeatureUnion, Pipeline

            features = FeatureUnion(list(zip(("word", "char"), _vectorizers(self.max_features))))
            clf = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight="balanced", random_state=self.seed)
            self.joined_ = Pipeline([("tfidf", features), ("logreg", clf)]).fit(_joined(X), y)
            self.classes_ = self.joined_.classes_
            return self
        self.joined_ = None
        self.text_vectorizers_ = _vectorizers(self.max_features)
        self.target_vectorizers_ = _vectorizers(self.max_features) if any(t.strip() for t in targets) else []
        self.classes_ = np.array(sorted(set(y.tolist())), dtype=object)
        codes = np.searchsorted(self.classes_, y)
        self.coef_, self.intercept_ = self._lbfgs(self._design(texts, targets, fit=True), codes)
        return self

    def _design(self, texts: Sequence[str], targets: Sequence[str], *, fit: bool = False):
        """The factored design: ``(distinct texts' matrix, row -> text, distinct targets' matrix, row -> target)``;
        ``fit``: the vectorizers are fitted on the distinct strings (a blank target is no document)."""
        import scipy.sparse as sp

        t_distinct, t_rows = unique_rows(texts)
        g_distinct, g_rows = unique_rows(targets)
        if fit:
            A = sp.hstack([v.fit_transform(t_distinct) for v in self.text_vectorizers_], format="csr")
        else:
            A = sp.hstack([v.transform(t_distinct) for v in self.text_vectorizers_], format="csr")
        if not self.target_vectorizers_:
            return A, t_rows, sp.csr_matrix((len(g_distinct), 0)), g_rows
        given = [k for k, t in enumerate(g_distinct) if t.strip()]
        blocks = [v.fit_transform if fit else v.transform for v in self.target_vectorizers_]
        T = sp.hstack([f([g_distinct[k] for k in given]) for f in blocks], format="csr")
        place = sp.csr_matrix((np.ones(len(given)), (given, np.arange(len(given)))), shape=(len(g_distinct), len(given)))
        return A, t_rows, (place @ T).tocsr(), g_rows

    def _lbfgs(self, design, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Minimise the balanced, L2-penalised multinomial log loss with L-BFGS (scikit-learn's
        objective, scaled by the total weight, and its stopping rule), on the factored design."""
        import scipy.sparse as sp
        from scipy.optimize import minimize

        A, t_rows, T, g_rows = design
        n, k = len(codes), len(self.classes_)
        counts = np.bincount(codes, minlength=k)
        weight = (n / (k * counts))[codes]  # class_weight="balanced"
        total = weight.sum()
        onehot = np.zeros((n, k))
        onehot[np.arange(n), codes] = 1.0
        blocks = []
        for M, rows in ((A, t_rows), (T, g_rows)):
            L = _row_space(M)
            X = M if L is None else L  # L L^T = M M^T: the same scores and penalty in M's row space
            gather = sp.csr_matrix((np.ones(n), (rows, np.arange(n))), shape=(M.shape[0], n))
            blocks.append((X, X.T.tocsr() if sp.issparse(X) else X.T, rows, gather, L, M))
        sizes = [k * b[0].shape[1] for b in blocks]
        cuts = np.cumsum([0] + sizes)

        def loss_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
            ws = [w[cuts[j]:cuts[j + 1]].reshape(k, -1) for j in range(len(blocks))]
            b = w[cuts[-1]:]
            z = b + sum(np.asarray(X @ wj.T)[rows] for (X, _, rows, _, _, _), wj in zip(blocks, ws))
            top = z.max(axis=1, keepdims=True)
            lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
            loss = float(weight @ (lse - z[np.arange(n), codes])) / total
            loss += sum(float(wj.ravel() @ wj.ravel()) for wj in ws) / (2 * self.C * total)
            r = (np.exp(z - lse[:, None]) - onehot) * (weight / total)[:, None]
            grads = [np.asarray(Xt @ (gather @ r)).T + wj / (self.C * total) for (_, Xt, _, gather, _, _), wj in zip(blocks, ws)]
            return loss, np.concatenate([g.ravel() for g in grads] + [r.sum(axis=0)])

        res = minimize(loss_grad, np.zeros(cuts[-1] + k), jac=True, method="L-BFGS-B",
                       options={"maxiter": self.max_iter, "maxls": 50, "gtol": self.tol, "ftol": 64 * np.finfo(float).eps})
        self.n_iter_ = int(res.nit)
        coefs = []
        for j, (_, _, _, _, L, M) in enumerate(blocks):
            wj = res.x[cuts[j]:cuts[j + 1]].reshape(k, -1)
            if L is not None:  # back to M's columns: coef = M^T L^-T w
                from scipy.linalg import solve_triangular

                wj = np.asarray(M.T @ solve_triangular(L.T, wj.T, lower=False)).T
            coefs.append(wj)
        return np.hstack(coefs), res.x[cuts[-1]:]

    def decision_function(self, X: Sequence[Any]) -> np.ndarray:
        if self.joined_ is not None:
            return self.joined_.decision_function(_joined(X))
        A, t_rows, T, g_rows = self._design(*self._sides(X))
        da = A.shape[1]
        return (np.asarray(A @ self.coef_[:, :da].T)[t_rows] + np.asarray(T @ self.coef_[:, da:].T)[g_rows]
                + self.intercept_)

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        if self.joined_ is not None:
            return self.joined_.predict_proba(_joined(X))
        from scipy.special import softmax

        return softmax(self.decision_function(X), axis=1)

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        if self.joined_ is not None:
            return self.joined_.predict(_joined(X))
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def make_tfidf_logreg(*, seed: int, max_features: int | None) -> TfidfLogReg:
    """The ``tfidf_logreg`` baseline: TF-IDF word 1-2 and char_wb 2-5 grams, each capped at
    ``max_features``, and a balanced logistic regression (:class:`TfidfLogReg`)."""
    return TfidfLogReg(seed=seed, max_features=max_features)
