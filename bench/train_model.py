"""Train the signal model on the labelled corpus and write service/signals/data/model.tsv.

One logistic regression per escalating signal over ``service.signals.model.features``
(presence of words, word pairs and letter sequences, scaled by one over the
square root of how many a message has).  Each signal's threshold is the
lowest probability at which five-fold cross-validation on the corpus keeps
precision at or above ``--precision``, raised if need be so that no message
of the corpus is wrongly flagged (the corpus stays at 1.00).  The held-out
sets are never read.

Needs scikit-learn (``pip install -e '.[train]'``); the service does not.

    PYTHONPATH=$PWD .venv/bin/python bench/train_model.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from scipy.sparse import diags
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.ruleset.modelfile import MODEL  # noqa: E402
from service.signals.model import corpus_digest, features  # noqa: E402
from tests.support.corpus import CORPUS, load_corpus  # noqa: E402

# Anger alone never escalates and has its own cues (capitals, "!!!"); the model is for threats.
MODELLED = ("supervisor_demand", "legal_threat", "physical_threat", "abuse")


def matrix(texts: list[str], vectorizer: CountVectorizer, fit: bool) -> object:
    """Return the scaled presence matrix of some texts."""
    counts = vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)
    sizes = np.array([max(len(features(t)), 1) for t in texts], dtype=float)
    return diags(1.0 / np.sqrt(sizes)) @ counts


def threshold(scores: np.ndarray, truth: np.ndarray, precision: float) -> float:
    """Return the lowest threshold at which the scores keep the precision asked for."""
    for t in np.arange(0.5, 0.995, 0.01):
        flagged = scores >= t
        if flagged.sum() and (flagged & truth).sum() / flagged.sum() >= precision:
            return float(round(t, 2))
    return 0.99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL, help="model file to write")
    parser.add_argument("--c", type=float, default=30.0, help="inverse regularisation strength")
    parser.add_argument("--precision", type=float, default=0.98, help="cross-validated precision")
    parser.add_argument(
        "--min-weight", type=float, default=0.05, help="drop features whose weights are all smaller"
    )
    args = parser.parse_args()

    messages = [m for m in load_corpus() if m.known_error is None]
    texts = [m.text for m in messages]
    vectorizer = CountVectorizer(analyzer=features, binary=True, min_df=2)
    x = matrix(texts, vectorizer, fit=True)
    names = vectorizer.get_feature_names_out()
    print(f"{len(texts)} messages, {len(names)} features (seen in two messages or more)")
    print(f"{'signal':<18} {'threshold':>9} {'cv precision':>12} {'cv recall':>9} {'raised':>6}")
    coefs, biases, thresholds = [], [], []
    for signal in MODELLED:
        truth = np.array([signal in m.signals for m in messages])
        model = LogisticRegression(C=args.c, max_iter=5000, class_weight="balanced")
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        scores = cross_val_predict(model, x, truth, cv=folds, method="predict_proba")[:, 1]
        cut = threshold(scores, truth, args.precision)
        flagged = scores >= cut
        cv_p = (flagged & truth).sum() / max(flagged.sum(), 1)
        cv_r = (flagged & truth).sum() / truth.sum()
        model.fit(x, truth)
        coef = np.where(np.abs(model.coef_[0]) >= args.min_weight, model.coef_[0], 0.0)
        logits = x @ coef + model.intercept_[0]
        worst = logits[~truth].max()  # the corpus must stay at 1.00: no negative above the cut
        raised = worst >= math.log(cut / (1 - cut))
        if raised:
            cut = min(round(1 / (1 + math.exp(-worst)) + 0.005, 3), 0.999)
        print(f"{signal:<18} {cut:>9.3f} {cv_p:>12.3f} {cv_r:>9.3f} {'yes' if raised else '':>6}")
        coefs.append(coef)
        biases.append(float(model.intercept_[0]))
        thresholds.append(cut)

    table = np.vstack(coefs).T
    keep = np.flatnonzero(np.abs(table).max(axis=1) > 0)
    lines = [
        "# trained_by\tbench/train_model.py"
        f" --c {args.c:g} --precision {args.precision:g} --min-weight {args.min_weight:g}",
        f"# corpus_sha256\t{corpus_digest(CORPUS.glob('*.yaml'))}",
        "# signals\t" + "\t".join(MODELLED),
        "# bias\t" + "\t".join(f"{b:.6g}" for b in biases),
        "# threshold\t" + "\t".join(f"{t:g}" for t in thresholds),
    ]
    lines += [names[i] + "\t" + "\t".join(f"{w:.4g}" for w in table[i]) for i in keep]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out.relative_to(ROOT)}: {len(keep)} features")


if __name__ == "__main__":
    main()
