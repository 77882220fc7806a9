"""Notebook 05: a linear probe's test accuracy."""
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def probe_accuracy(x_train, y_train, x_test, y_test) -> float:
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(x_train, y_train)
    return float(probe.score(x_test, y_test))
