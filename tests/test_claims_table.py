"""The claims table: latest verdict per seed, effects signed the claimed way, incomplete runs said so."""

import json

import numpy as np
import pytest

from course_lib import claims_table as ct


def _rec(notebook, claim, holds, measured, seed, t, preset="cpu", kind="claim"):
    return {"notebook": notebook, "claim": claim, "kind": kind, "holds": holds, "measured": measured,
            "preset": preset, "seed": seed, "time": t}


def test_summary_takes_the_latest_verdict_per_seed_and_counts_holds():
    name = "D(ẑ) is clearly worse than D(E(x))"
    recs = [_rec("03", name, True, {"gap_mel": 0.2 + 0.01 * s, "stoi_drop": 0.1}, s, 10) for s in range(5)]
    recs.append(_rec("03", name, False, {"gap_mel": 0.01, "stoi_drop": 0.0}, 0, 5))  # older: replaced
    recs.append(_rec("03", name, False, {"gap_mel": 0.0, "stoi_drop": 0.0}, 1, 20))  # newer: replaces
    recs.append(_rec("03", name, True, {"gap_mel": 9.0, "stoi_drop": 9.0}, 2, 30, preset="smoke"))  # other preset
    table = ct.summarise(recs, "cpu").set_index("claim")
    c4 = table.loc["C4"]
    assert c4["seeds holding"] == "4/5 holds"
    gaps = [0.2, 0.0, 0.22, 0.23, 0.24]  # seed 1's newer record, the others' t=10 ones
    assert f"gap (mel) {np.mean(gaps):.3g} ± {np.std(gaps, ddof=1):.2g}" in c4["measured effect (mean ± sd over seeds)"]
    assert table.loc["C1", "seeds holding"] == "not run"


def test_incomplete_runs_and_old_records_are_plain():
    recs = [_rec("06", "C14 frozen-encoder polish", s != 0, {"mel_gain": 0.05, "mrstft_gain": 0.03,
                                                             "max_abs_change": 0.0}, s, 1) for s in (0, 2)]
    recs.append(_rec("06", "C14 frozen-encoder polish", True, {"an old key": 1.0}, 3, 1))  # an older notebook's numbers
    row = ct.summarise(recs).set_index("claim").loc["C14"]
    assert row["seeds holding"] == "2/3 (seeds 0, 2, 3 only)"
    assert "mel gain 0.05 ± 0" in row["measured effect (mean ± sd over seeds)"]


def test_table_file_and_records_io(tmp_path):
    md = ct.markdown(ct.summarise([]), "cpu")
    assert md.count("| not run |") == len(ct.SPECS)
    (tmp_path / "03.jsonl").write_text(json.dumps(_rec("03", "D(ẑ) is clearly worse", True,
                                                       {"gap_mel": 0.2, "stoi_drop": 0.1}, 0, 1)) + "\nnot json\n")
    assert len(ct.read_records(tmp_path)) == 1
    out = tmp_path / "claims.md"
    assert ct.main(["--claims-dir", str(tmp_path), "--out", str(out)]) == 0
    assert "| C4 | 03 |" in out.read_text() and "1/1 (seeds 0 only)" in out.read_text()


def test_readme_block_is_rewritten_and_a_readme_without_one_stops_before_writing(tmp_path):
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "03.jsonl").write_text(json.dumps(_rec("03", "D(ẑ) is clearly worse", True,
                                                                   {"gap_mel": 0.2, "stoi_drop": 0.1}, 0, 1)) + "\n")
    readme, out = tmp_path / "README.md", tmp_path / "claims.md"
    readme.write_text("# Course\n<!-- claims:begin -->\nstale\n<!-- claims:end -->\nafter\n")
    args = ["--claims-dir", str(tmp_path / "records"), "--out", str(out), "--readme", str(readme)]
    assert ct.main(args) == 0
    text = readme.read_text()
    assert "stale" not in text and "| C4 | 03 |" in text and text.endswith("<!-- claims:end -->\nafter\n")
    assert "# Claims" not in text and "# Claims" in out.read_text()  # the README block has no heading
    out.unlink()
    readme.write_text("no block here\n")
    with pytest.raises(ValueError, match="claims:begin"):
        ct.main(args)
    assert not out.exists() and readme.read_text() == "no block here\n"


def test_a_run_over_some_records_keeps_the_other_claims_rows(tmp_path):
    """A records folder with 04's records only must not turn 03's and 06's verdicts into "not run"."""
    first, second, out = tmp_path / "first", tmp_path / "second", tmp_path / "claims.md"
    first.mkdir(), second.mkdir()
    (first / "03.jsonl").write_text("".join(json.dumps(_rec("03", "D(ẑ) is clearly worse", True,
                                                            {"gap_mel": 0.2, "stoi_drop": 0.1}, s, 1)) + "\n"
                                            for s in range(5)))
    (first / "06.jsonl").write_text(json.dumps(_rec("06", "C14 frozen-encoder polish", True, {
        "mel_gain": 0.05, "mrstft_gain": 0.03, "max_abs_change": 0.0}, 0, 1)) + "\n")  # its effect holds a "|"
    assert ct.main(["--claims-dir", str(first), "--out", str(out)]) == 0
    before = out.read_text()
    (second / "04.jsonl").write_text(json.dumps(_rec("04", "an average hides", True, {
        "kl": {"place_excess": 1.2}, "residual": {"place_excess": 1.9}}, 0, 2)) + "\n")
    assert ct.main(["--claims-dir", str(second), "--out", str(out)]) == 0
    after = out.read_text()
    for claim in ("| C4 | 03 |", "| C14 | 06 |"):  # kept, character for character
        assert next(line for line in after.splitlines() if line.startswith(claim)) == \
            next(line for line in before.splitlines() if line.startswith(claim))
    assert "5/5 holds" in after and "\\|Δz\\|" in after and "1/1 (seeds 0 only)" in after
    assert next(line for line in after.splitlines() if line.startswith("| C1 |")).endswith("| not run |  |")


def test_only_rebuilds_the_named_notebooks_and_keeps_the_others_even_with_records(tmp_path):
    """A checkout that re-ran seed 0 of 03 has a record for C4; with --only 06 that one seed must not
    replace C4's five-seed row, while 06's row is rebuilt from its records."""
    full, partial, out = tmp_path / "full", tmp_path / "partial", tmp_path / "claims.md"
    full.mkdir(), partial.mkdir()
    c14 = {"mel_gain": 0.05, "mrstft_gain": 0.03, "max_abs_change": 0.0}
    (full / "03.jsonl").write_text("".join(json.dumps(_rec("03", "D(ẑ) is clearly worse", True,
                                                           {"gap_mel": 0.2, "stoi_drop": 0.1}, s, 1)) + "\n"
                                           for s in range(5)))
    (full / "06.jsonl").write_text(json.dumps(_rec("06", "C14 frozen-encoder polish", True, c14, 0, 1)) + "\n")
    assert ct.main(["--claims-dir", str(full), "--out", str(out)]) == 0
    c4_before = next(line for line in out.read_text().splitlines() if line.startswith("| C4 |"))
    assert "5/5 holds" in c4_before
    (partial / "03.jsonl").write_text(json.dumps(_rec("03", "D(ẑ) is clearly worse", False,
                                                      {"gap_mel": 0.0, "stoi_drop": 0.0}, 0, 5)) + "\n")
    (partial / "06.jsonl").write_text("".join(json.dumps(_rec("06", "C14 frozen-encoder polish", True, c14, s, 5))
                                              + "\n" for s in range(5)))
    assert ct.main(["--claims-dir", str(partial), "--out", str(out), "--only", "6"]) == 0
    after = out.read_text().splitlines()
    assert next(line for line in after if line.startswith("| C4 |")) == c4_before  # kept despite its record
    assert "| 5/5 holds |" in next(line for line in after if line.startswith("| C14 |"))  # rebuilt
    assert ct.main(["--claims-dir", str(partial), "--out", str(out)]) == 0  # without --only: replaced
    assert "0/1 (seeds 0 only)" in next(line for line in out.read_text().splitlines() if line.startswith("| C4 |"))
    with pytest.raises(SystemExit):  # a notebook without claims is a typo, not an empty rebuild
        ct.main(["--claims-dir", str(partial), "--out", str(out), "--only", "09"])


TWO = {"acoustic only": 0.3, "coupled to the teacher": 0.35, "two-path (acoustic + semantic)": 0.4}
MEASURED = {  # one measured dict per claim, shaped like the notebooks' check_claim calls
    "C0": {"pan_ild_correlation": 1.0, "f0_median_abs_cents": 11.0},
    "C1": {"stoi_margin": 0.01},
    "C2": {"speech · MR-STFT": {"mel_dist": 0.8}, "speech · MR-STFT + mel": {"mel_dist": 0.7},
           "speech · waveform L1": {"mel_dist": 1.6}},
    "C3": {"ild_lr_db": 8.0, "ild_ms_db": 7.0},
    "C4": {"gap_mel": 0.2, "stoi_drop": 0.1},
    "C5": {"gap_closed_mel": 0.3},
    "C6": {"oracle_gain_after": 0.06},
    "C7": {"best_oracle": "plain", "best_predicted": "kl", "interior_margin": 0.02},
    "C7a": {"best_oracle": "plain", "best_predicted": "kl", "stoi_margin": 0.05, "mel_margin": 0.004},
    "C8": {"gain_mel": 0.01, "gain_stoi": 0.02},
    "C9": {"residual": {"place_excess": 1.8}},
    "C10": {"content": TWO, "speaker": TWO},
    "C11": {"content": TWO, "speaker": TWO},
    "C12": {"speaker": {"layer 1 (acoustic end) · cosine": 0.7, "posteriors (phone end) · KL": 0.5}},
    "C13": {"share": {"a": 0.7, "b": 0.3}, "mean_cos": {"a~b": -0.1}},
    "C14": {"mel_gain": 0.05, "mrstft_gain": 0.03, "max_abs_change": 0.0},
    "C15": {"control: +steps on E(x)": {"generation D(ẑ)": 0.92}, "phase 4: + replay of ẑ": {"generation D(ẑ)": 0.9}},
    "C16r": {"neutral_oracle": {"neutral codec": 0.8, "restoration encoder": 1.0},
             "task_oracle": {"neutral codec": 1.6, "restoration encoder": 1.1}},
    "C16c": {"neutral_oracle": {"wide codec": 0.6, "narrow bottleneck": 0.65}},
    "C17r": {"collapse_above_chance": {"neutral codec": 0.8, "restoration encoder": 0.7}},
    "C17c": {"speaker_above_chance": {"wide codec": 1.0, "narrow bottleneck": 0.7}},
    "C18": {"gap_mel": 0.12, "noise_share_of_gap": 0.08},
}


def test_every_claim_reads_its_effect_in_the_claimed_direction():
    assert set(MEASURED) == {spec.id for spec in ct.SPECS}
    for spec in ct.SPECS:
        effect = spec.effect(MEASURED[spec.id])
        assert effect and all(isinstance(v, float) for v in effect.values()), spec.id
    # signs: the examples above all point the claimed way
    first = {spec.id: next(iter(spec.effect(MEASURED[spec.id]).values())) for spec in ct.SPECS}
    assert all(first[c] > 0 for c in ("C1", "C2", "C3", "C4", "C7", "C7a", "C10", "C12", "C15", "C16r", "C17r", "C17c"))
