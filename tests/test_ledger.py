"""The retain/collapse ledger: contract validation, every verdict branch, the side-by-side table, a real run."""

import numpy as np
import pandas as pd
import pytest

from course_lib import probes as P
from course_lib.ledger import VERDICT_WANTS, Ledger


def acc(factor, score, chance=0.25):
    return P.ProbeResult(factor, "classify", "accuracy", score, chance, 100, 50, 4, "s", "linear")


def r2(factor, score):
    return P.ProbeResult(factor, "regress", "r2", score, 0.0, 100, 50, 0, "s", "linear")


def test_contract_is_validated():
    assert VERDICT_WANTS == ("retain", "collapse", "product")
    with pytest.raises(ValueError, match="unknown factor 'timbre'.*content"):
        Ledger({"timbre": "retain"})
    with pytest.raises(ValueError, match="'keep' is not one of"):
        Ledger({"content": "keep"})
    with pytest.raises(ValueError, match="empty contract"):
        Ledger({})
    with pytest.raises(ValueError, match="probe kind"):
        Ledger({"content": "retain"}, kind="forest")
    with pytest.raises(ValueError, match="threshold"):
        Ledger({"content": "retain"}, threshold=0.0)
    with pytest.raises(ValueError, match="notes for factors not in the contract"):
        Ledger({"content": "retain"}, notes={"room": "why"})


def test_probes_keep_contract_order_and_describe_reads():
    led = Ledger({"room": "product", "content": "retain"}, notes={"room": "podcast cloning keeps room tone"})
    assert led.probes() == ["room", "content"]
    text = str(led)
    assert text == led.describe() and "room" in text and "podcast cloning" in text and "0.2" in text


def test_every_verdict_branch():
    led = Ledger({"content": "retain", "speaker": "retain", "room": "collapse", "degradation": "collapse",
                  "prosody": "product", "stereo": "product", "energy": "retain", "condition": "retain"})
    results = [
        acc("content", 0.85),  # (0.85-0.25)/0.75 = 0.8
        acc("speaker", 0.30),  # 0.067 < 0.2
        acc("room", 0.25),  # at chance
        acc("degradation", 0.70),  # 0.6
        r2("prosody", 0.5), r2("stereo", 0.05),
        P.not_probed("energy", "energy: needs the audio of every clip"),
        # "condition" has no result at all
    ]
    j = led.judge(results).set_index("factor")
    assert list(j.index) == led.probes()
    assert j.loc["content", "verdict"] == "kept ✓" and j.loc["content", "present"]
    assert j.loc["speaker", "verdict"] == "LOST ✗" and not j.loc["speaker", "present"]
    assert j.loc["room", "verdict"] == "collapsed ✓"
    assert j.loc["degradation", "verdict"] == "LEAKS ✗"
    assert j.loc["prosody", "verdict"] == "present (product decides)"
    assert j.loc["stereo", "verdict"] == "absent (product decides)"
    assert j.loc["energy", "verdict"] == "not probed: energy: needs the audio of every clip"
    assert j.loc["condition", "verdict"] == "not probed: no result"
    assert j.loc["content", "above_chance"] == pytest.approx(0.8) and j.loc["content", "chance"] == 0.25
    assert j["present"].dtype == bool


def test_threshold_is_inclusive_and_configurable():
    at = r2("prosody", 0.2)  # R² is its own above-chance score: exactly at the threshold
    assert Ledger({"prosody": "retain"}).judge([at])["verdict"][0] == "kept ✓"
    assert Ledger({"prosody": "retain"}, threshold=0.5).judge([at])["verdict"][0] == "LOST ✗"


def test_table_puts_encoders_side_by_side():
    led = Ledger({"content": "retain", "room": "collapse", "stereo": "product"})
    t = led.table({"plain": [acc("content", 0.85), acc("room", 0.9), r2("stereo", 0.6)],
                   "teacher": [acc("content", 0.3), acc("room", 0.25), P.not_probed("stereo", "no music")]})
    assert t.shape == (3, 3) and list(t.columns) == ["wants", "plain", "teacher"]
    assert list(t.index) == ["content", "room", "stereo"]
    assert t.loc["content", "plain"] == "0.85 (0.25) kept ✓"
    assert t.loc["room", "plain"].endswith("LEAKS ✗") and t.loc["room", "teacher"].endswith("collapsed ✓")
    assert t.loc["content", "teacher"].endswith("LOST ✗") and t.loc["stereo", "teacher"] == "not probed: no music"


def synthetic_speech(n_speakers=6, per_speaker=30, frames=40, channels=6, fr=50.0, seed=0, speaker_shift=0.0):
    """Latents that carry the phone (planted) and, unless ``speaker_shift``, nothing about the speaker.

    Sized so the noise speaker probe stays well under the 0.2 threshold (max 0.11 over seeds 0-19).
    """
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(P.PHONES), channels)) * 2
    voices = rng.standard_normal((n_speakers, channels, 1)) * speaker_shift
    latents, rows, labels = [], [], []
    for s in range(n_speakers):
        for u in range(per_speaker):
            ids = rng.choice([P.PHONES.index(p) for p in ("aa", "iy", "s", "pau")], size=frames // 4)
            labels.append({"phones": [{"phone": P.PHONES[k], "start": j * 4 / fr, "end": (j + 1) * 4 / fr}
                                      for j, k in enumerate(ids)]})
            latents.append(rng.standard_normal((channels, frames)) + table[np.repeat(ids, 4)].T + voices[s])
            rows.append(pd.Series({"clip_id": f"s{s}-{u}", "split": "test" if s == 0 else "train", "domain": "speech",
                                   "condition": "clean", "source_id": f"s{s}-{u}", "speaker": f"spk{s}"}))
    return latents, rows, labels, fr


def test_run_keeps_planted_content_and_loses_noise_speaker():
    led = Ledger({"content": "retain", "speaker": "retain", "room": "product"})
    latents, rows, labels, fr = synthetic_speech()
    results = led.run(latents, rows, labels, fr)
    assert [r.factor for r in results] == ["content", "speaker", "room"]
    j = led.judge(results).set_index("factor")
    assert j.loc["content", "verdict"] == "kept ✓"
    assert j.loc["speaker", "verdict"] == "LOST ✗"
    assert j.loc["room", "verdict"].startswith("not probed: room: no rows with condition == 'reverb'")
    assert [r.score for r in results[:2]] == [r.score for r in led.run(latents, rows, labels, fr)[:2]]  # seeded


def test_run_keeps_a_planted_speaker():
    led = Ledger({"speaker": "retain", "content": "collapse"})
    j = led.judge(led.run(*synthetic_speech(speaker_shift=1.0))).set_index("factor")
    assert j.loc["speaker", "verdict"] == "kept ✓" and j.loc["content", "verdict"] == "LEAKS ✗"
