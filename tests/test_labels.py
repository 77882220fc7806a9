"""The corpus labels agree with independent measurements (on the smoke corpus)."""

import pytest

from course_lib import data


@pytest.fixture(scope="module")
def smoke():
    corpus = data.ensure_corpus("smoke")
    return corpus, data.read_manifest(corpus)


def test_check_labels_on_smoke_corpus(smoke):
    corpus, df = smoke
    res = data.check_labels(corpus, df, n_speech=3, n_music=4)
    s = res["summary"]
    assert s["f0_median_abs_cents"] < 50 and s["f0_voicing_agreement"] > 0.8
    assert s["pan_ild_max_error_db"] < 1.0
    assert s["pause_minus_vowel_db"] < -15
    assert len(res["pan"]) == 4


def test_phone_class():
    assert data.phone_class("pau") == "pause"
    assert data.phone_class("aa") == "vowel"
    assert data.phone_class("k") == "consonant"
