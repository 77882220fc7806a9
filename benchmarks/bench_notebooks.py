#!/usr/bin/env python
"""How long each notebook takes, and how much memory: the numbers behind the README's syllabus.

    python benchmarks/bench_notebooks.py --presets smoke cpu --seed 3 [--only 03 05]

For every preset, every notebook runs twice, each time alone in its own process
(``python -m course_lib.run_notebooks --only NN``, so the kernel start is counted like a learner
feels it):

- **first run**: against an empty checkpoint cache (``COURSE_CHECKPOINTS`` points at a fresh folder
  under ``build/bench/``), so the notebook trains every model it needs;
- **cached**: again, with the cache the first run left: what a re-run or a workshop costs.

While a notebook runs, the resident memory of its whole process tree (papermill, the kernel, any
``torchrun`` workers) is sampled every 0.2 s; the peak is reported.  Shared libraries are counted
once per process, so it is an upper bound.

The numbers go to ``benchmarks/notebooks.json`` (merged: ``--only`` updates those rows), the
``## Notebook timings`` section of ``benchmarks/results.md`` (``bench_train.py`` owns the rest of
that file and keeps this section) and the syllabus table of ``README.md`` between its
``<!-- syllabus:begin -->`` / ``<!-- syllabus:end -->`` markers.  ``--table-only`` rewrites the two
tables from the JSON without running anything.

A notebook whose claim does not hold at this scale stops at its ``check_claim`` (the claim is
recorded for ``make claims``); its time is then the time to that cell, marked in the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import data, presets  # noqa: E402
from course_lib.files import atomic_write, block_markers, replace_marked_block  # noqa: E402
from course_lib.run_notebooks import title  # noqa: E402

HERE = ROOT / "benchmarks"
WORK = ROOT / "build" / "bench"
BEGIN, END = block_markers("syllabus")
PASSES = ("first", "cached")
SAMPLE_S = 0.2


def notebooks(only: list[str] | None = None) -> list[Path]:
    found = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    if only:
        found = [nb for nb in found if any(nb.name.startswith(o) for o in only)]
    if not found:
        raise SystemExit(f"bench_notebooks: no notebook matches {only}")
    return found


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and all its descendants (0 for any that vanished meanwhile)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def run_one(nb: Path, preset: str, seed: int, checkpoints: Path, out: Path, log) -> dict:
    """Execute one notebook in a child process; wall seconds, peak tree RSS and how it ended."""
    cmd = [sys.executable, "-m", "course_lib.run_notebooks", "--preset", preset, "--seed", str(seed),
           "--only", nb.name[:2], "--out", str(out), "--keep-going"]
    env = {**os.environ, "COURSE_CHECKPOINTS": str(checkpoints)}
    t0 = time.time()
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc, peak = psutil.Process(child.pid), 0
    lines: list[str] = []
    # the output is drained on a thread so the sampling loop never blocks on it
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    reader.start()
    while child.poll() is None:
        peak = max(peak, tree_rss(proc))
        time.sleep(SAMPLE_S)
    reader.join()
    seconds = time.time() - t0
    text = "".join(lines)
    if child.returncode != 0:
        status = "error"
        log(text[-3000:])
    elif "stopped at" in text:
        status = "claim stopped"
    else:
        status = "ok"
    return {"seconds": round(seconds, 1), "peak_mb": round(peak / 2**20), "status": status,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def bench(preset_names: list[str], seed: int, only: list[str] | None, passes=PASSES, log=print,
          on_row=None) -> dict:
    """Run the passes; returns {preset: {notebook: {pass: row}}} for what ran.  ``on_row(results)``
    is called after every run (main saves the JSON there, so an interrupted bench keeps its rows).
    Each row names the CPU it ran on: a partial re-run merges into rows measured elsewhere."""
    results: dict = {}
    cpu = machine()["cpu"]
    for name in preset_names:
        preset = presets.get(name)
        data.ensure_corpus(preset.corpus)  # rendering the corpus is make corpus's time, not a notebook's
        checkpoints = WORK / f"checkpoints-{name}-seed{seed}"
        if "first" in passes and checkpoints.exists():
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True, exist_ok=True)
        for nb in notebooks(only):
            for which in passes:
                log(f"== {name} · {nb.name} · {which} run")
                row = run_one(nb, name, seed, checkpoints, WORK / f"{name}-{which}", log)
                row["seed"], row["cpu"] = seed, cpu
                log(f"   {row['seconds']:.0f} s, peak {row['peak_mb']} MB, {row['status']}")
                results.setdefault(name, {}).setdefault(nb.name, {})[which] = row
                if on_row is not None:
                    on_row(results)
    return results


def merge(old: dict, new: dict) -> dict:
    out = json.loads(json.dumps(old.get("runs", {})))
    for nbs in out.values():  # rows from before rows named their CPU ran on the old record's machine
        for passes in nbs.values():
            for row in passes.values():
                row.setdefault("cpu", old.get("machine", {}).get("cpu", "?"))
    for preset, nbs in new.items():
        for nb, passes in nbs.items():
            out.setdefault(preset, {}).setdefault(nb, {}).update(passes)
    return out


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "torch": torch.__version__, "python": platform.python_version(),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def _cell(row: dict | None) -> str:
    if not row:
        return "—"
    mark = {"ok": "", "claim stopped": " (stops at its claim)", "error": " (error)"}[row["status"]]
    return f"{row['seconds'] / 60:.1f} min{mark}"


def syllabus_table(runs: dict) -> str:
    """The README's syllabus: one row per notebook, its title, and the measured columns."""
    head = ("| # | notebook | lesson | cpu, first run | cpu, cached | smoke | peak memory (cpu) |\n"
            "|---|---|---|---|---|---|---|\n")
    rows = []
    for nb in notebooks():
        cpu, smoke = runs.get("cpu", {}).get(nb.name, {}), runs.get("smoke", {}).get(nb.name, {})
        peak = max((r["peak_mb"] for r in cpu.values()), default=None)
        lesson = re.sub(r"^\d+\s*·\s*", "", title(nb)).replace("|", "\\|")
        rows.append(f"| {nb.name[:2]} | `{nb.name}` | {lesson} | {_cell(cpu.get('first'))} | "
                    f"{_cell(cpu.get('cached'))} | {_cell(smoke.get('first'))} | "
                    f"{'—' if peak is None else f'{peak / 1024:.1f} GiB'} |")
    return head + "\n".join(rows) + "\n"


def provenance(record: dict) -> str:
    m = record.get("machine", {})
    seeds = sorted({r["seed"] for nbs in record["runs"].values() for p in nbs.values() for r in p.values()})
    # preset -> CPU -> the notebooks whose runs used it (a partial re-run may use another machine)
    used: dict = {}
    for preset, nbs in record["runs"].items():
        for nb, passes in nbs.items():
            for r in passes.values():
                used.setdefault(preset, {}).setdefault(r.get("cpu", m.get("cpu", "?")), set()).add(nb[:2])
    where: dict = {}  # CPU -> "the cpu runs" (a whole preset) or "the smoke runs of 00 05"
    for preset, by_cpu in used.items():
        for cpu, nbs in by_cpu.items():
            where.setdefault(cpu, []).append(f"the {preset} runs" if len(by_cpu) == 1
                                             else f"the {preset} runs of {' '.join(sorted(nbs))}")
    if len(where) < 2:
        cpus = next(iter(where), m.get("cpu", "?"))
    else:
        cpus = "; ".join(f"{cpu} for {' and '.join(sorted(what))}"
                         for cpu, what in sorted(where.items(), key=lambda kv: kv[0]))
    return (f"Measured by `make bench` (`benchmarks/bench_notebooks.py`), {record.get('date', '?')[:10]}, "
            f"seed {', '.join(map(str, seeds))}, on {m.get('cores', '?')} CPU cores ({cpus}; "
            f"torch {m.get('torch', '?')}), each notebook alone on the machine and in its own process. "
            f"*First run* starts from an empty checkpoint cache and trains every model the notebook needs; "
            f"*cached* re-runs it with the checkpoints the first run left; *smoke* is the CI preset, first "
            f"run. Peak memory is the resident memory of the notebook's whole process tree (an upper bound).")


def timings_section(record: dict) -> str:
    # The throughput ratio is not repeated here: bench_train.py owns it (## Throughput) and rewrites
    # its own sections without touching this one, so a copy here would go stale.
    lines = ["## Notebook timings", "", provenance(record), "",
             "| notebook | preset | first run | cached | peak memory, first / cached | how it ended |",
             "|---|---|---:|---:|---:|---|"]
    for preset in ("smoke", "cpu", "gpu"):
        for nb, passes in sorted(record["runs"].get(preset, {}).items()):
            first, cached = passes.get("first"), passes.get("cached")
            mem = " / ".join(f"{r['peak_mb']} MB" if r else "—" for r in (first, cached))
            ended = ", ".join(sorted({r["status"] for r in (first, cached) if r}))
            secs = [f"{r['seconds']:.0f} s" if r else "—" for r in (first, cached)]
            lines.append(f"| `{nb}` | {preset} | {secs[0]} | {secs[1]} | {mem} | {ended} |")
    return "\n".join(line for line in lines) + "\n"


def replace_section(text: str, section: str) -> str:
    """``text`` with its ``## Notebook timings`` section replaced by ``section`` (appended if absent)."""
    pattern = re.compile(r"^## Notebook timings\b.*?(?=^## |\Z)", flags=re.M | re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: section.rstrip() + "\n\n", text, count=1).rstrip() + "\n"
    return text.rstrip() + "\n\n" + section


def replace_syllabus(readme: str, table: str, note: str) -> str:
    try:
        return replace_marked_block(readme, "syllabus", f"{table}\n{note}")
    except ValueError as e:
        raise SystemExit(f"README.md: {e}") from None


def write_tables(record: dict, results_md: Path, readme: Path) -> None:
    section = timings_section(record)
    old = results_md.read_text() if results_md.exists() else "# Benchmarks\n"
    atomic_write(results_md, lambda tmp: Path(tmp).write_text(replace_section(old, section)))
    text = replace_syllabus(readme.read_text(), syllabus_table(record["runs"]), provenance(record))
    atomic_write(readme, lambda tmp: Path(tmp).write_text(text))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=["smoke", "cpu"], choices=["smoke", "cpu", "gpu"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", help="notebook prefixes, e.g. 00 03")
    ap.add_argument("--passes", nargs="+", default=list(PASSES), choices=list(PASSES))
    ap.add_argument("--json", type=Path, default=HERE / "notebooks.json")
    ap.add_argument("--results", type=Path, default=HERE / "results.md")
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--table-only", action="store_true", help="rewrite the tables from the JSON; run nothing")
    args = ap.parse_args(argv)

    old = json.loads(args.json.read_text()) if args.json.exists() else {}
    if args.table_only:
        if not old:
            raise SystemExit(f"bench_notebooks: {args.json} does not exist yet; run without --table-only")
        record = old
    else:
        start = machine()

        def save(results: dict) -> None:
            record.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                          runs=merge(old, results))
            atomic_write(args.json, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1) + "\n"))

        record = {"machine": start}
        bench(args.presets, args.seed, args.only, tuple(args.passes), on_row=save)
    write_tables(record, args.results, args.readme)
    print(f"wrote {args.json}, {args.results} (## Notebook timings) and the syllabus in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
