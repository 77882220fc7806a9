"""make bench's notebook timings: the tables it writes from a record, and the README block it owns."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_notebooks.py"


@pytest.fixture(scope="module")
def bench():
    return load_script(BENCH, "bench_notebooks")


def _row(seconds, peak, status="ok"):
    return {"seconds": seconds, "peak_mb": peak, "status": status, "date": "2026-11-28T00:00:00+00:00", "seed": 4}


def _record():
    return {"date": "2026-11-28T12:00:00+00:00", "machine": {"cores": 2, "cpu": "AMD EPYC", "torch": "2.14.1"},
            "runs": {"cpu": {"00_welcome.ipynb": {"first": _row(240.0, 2048), "cached": _row(30.0, 1500)},
                             "03_breaking_the_oracle.ipynb": {"first": _row(300.0, 3072, "claim stopped")}},
                     "smoke": {"00_welcome.ipynb": {"first": _row(36.0, 1700)}}}}


def test_syllabus_table_has_every_notebook_and_the_measured_cells(bench):
    table = bench.syllabus_table(_record()["runs"])
    lines = table.strip().splitlines()
    assert len(lines) == 2 + len(bench.notebooks())
    row00 = next(line for line in lines if line.startswith("| 00 |"))
    assert "| 4.0 min | 0.5 min | 0.6 min | 2.0 GiB |" in row00
    row03 = next(line for line in lines if line.startswith("| 03 |"))
    assert "5.0 min (stops at its claim)" in row03 and "| — |" in row03  # cached and smoke not measured
    assert "Welcome" in row00  # the lesson title comes from the notebook's heading


def test_merge_keeps_rows_that_did_not_run_again(bench):
    old = _record()
    new = {"cpu": {"00_welcome.ipynb": {"cached": _row(20.0, 1400)}}}
    runs = bench.merge(old, new)
    assert runs["cpu"]["00_welcome.ipynb"]["cached"]["seconds"] == 20.0
    assert runs["cpu"]["00_welcome.ipynb"]["first"]["seconds"] == 240.0
    assert "03_breaking_the_oracle.ipynb" in runs["cpu"]
    assert old["runs"]["cpu"]["00_welcome.ipynb"]["cached"]["seconds"] == 30.0  # merge copies, never mutates


def test_results_section_replaced_not_duplicated(bench):
    old = "# Training benchmark\n\nbody\n\n## Notebook timings\n\nstale\n\n## Later\n\nkept\n"
    section = bench.timings_section(_record())
    new = bench.replace_section(old, section)
    assert new.count("## Notebook timings") == 1 and "stale" not in new
    assert "body" in new and "## Later\n\nkept" in new
    assert "| `00_welcome.ipynb` | cpu | 240 s | 30 s | 2048 MB / 1500 MB | ok |" in new
    assert bench.replace_section(new, section) == new  # idempotent
    appended = bench.replace_section("# Training benchmark\n", section)
    assert appended.startswith("# Training benchmark\n\n## Notebook timings")


def test_timings_section_does_not_copy_the_throughput_ratio(bench):
    # bench_train.py owns the ratio and keeps this section verbatim: a copy here went stale once.
    section = bench.timings_section(_record())
    assert "steps per second" not in section and "×" not in section


def test_readme_block_is_rewritten_in_place(bench):
    readme = f"intro\n{bench.BEGIN}\nold table\n{bench.END}\n\nafter\n"
    out = bench.replace_syllabus(readme, "| new |\n", "note")
    assert out == f"intro\n{bench.BEGIN}\n| new |\n\nnote\n{bench.END}\n\nafter\n"
    with pytest.raises(SystemExit, match="syllabus:begin"):
        bench.replace_syllabus("no markers here", "| t |", "n")


def test_the_readme_has_the_generated_block(bench):
    text = (BENCH.parent.parent / "README.md").read_text()
    assert text.count(bench.BEGIN) == 1 and text.count(bench.END) == 1


def test_tree_rss_counts_this_process(bench):
    import psutil

    assert bench.tree_rss(psutil.Process()) > 10 * 2**20


def test_a_partial_rerun_on_another_cpu_names_both_machines(bench):
    old = _record()  # rows from before rows named their CPU: they ran on the record's machine
    new = {"cpu": {"05_teachers.ipynb": {"first": {**_row(250.0, 1900), "cpu": "Intel Xeon"}}}}
    record = {"date": "2026-11-30T00:00:00+00:00", "machine": {"cores": 2, "cpu": "Intel Xeon", "torch": "2.14.1"},
              "runs": bench.merge(old, new)}
    text = bench.provenance(record)
    assert "(AMD EPYC for the cpu runs of 00 03 and the smoke runs; Intel Xeon for the cpu runs of 05; torch" in text
    assert record["runs"]["cpu"]["00_welcome.ipynb"]["first"]["cpu"] == "AMD EPYC"
    assert "(AMD EPYC; torch" in bench.provenance(old)  # one machine: named once


def test_each_preset_names_the_cpus_its_runs_used(bench):
    old = _record()
    # 00's cpu rows re-run on a Xeon, its smoke row left from the AMD machine: once, 00 was listed under both
    new = {"cpu": {"00_welcome.ipynb": {p: {**_row(400.0, 2000), "cpu": "Intel Xeon"} for p in ("first", "cached")}}}
    record = {"date": "2026-11-30T00:00:00+00:00", "machine": {"cores": 2, "cpu": "Intel Xeon", "torch": "2.14.1"},
              "runs": bench.merge(old, new)}
    assert ("(AMD EPYC for the cpu runs of 03 and the smoke runs; Intel Xeon for the cpu runs of 00; torch"
            in bench.provenance(record))
    # every cpu run re-timed on the Xeon: one phrase per preset, no list of notebooks
    new = {"cpu": {nb: {p: {**_row(300.0, 2000), "cpu": "Intel Xeon"} for p in ("first", "cached")}
                   for nb in ("00_welcome.ipynb", "03_breaking_the_oracle.ipynb")}}
    record["runs"] = bench.merge(old, new)
    assert "(AMD EPYC for the smoke runs; Intel Xeon for the cpu runs; torch" in bench.provenance(record)
