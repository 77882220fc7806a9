"""PESQ-wb and STOI over many clips at once, in worker processes.

They are the two slowest metrics the course computes (PESQ-wb about 0.1 s for a 2-3 s clip, STOI
about 0.02 s: 28 s of notebook 03's 61-s re-run), and both hold Python's GIL, so threads do not
help. ``speech_scores`` sends the clips to worker processes instead, one per CPU core the process may
use (``COURSE_METRIC_WORKERS`` overrides; 1 means score here, serially). The scores are the same
numbers either way: every clip is scored by the same code, whichever process runs it.

The workers are joblib's (its "loky" backend): fresh processes, not forks of a notebook's kernel
(which would carry the kernel's memory and torch's threads into each), kept alive between calls, and
started without re-running the caller's script.  This module imports only numpy, ``pesq`` and
``pystoi`` (not torch), so a worker starts in about a second.  ``metrics.score_clips`` uses it;
``metrics.pesq_wb`` and ``metrics.stoi`` score one clip here.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

MIN_PARALLEL = 4  # fewer clips than this are scored here: a worker round trip would cost more


def pesq_wb_np(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000) -> float:
    """Wide-band PESQ of two mono float arrays at 16 kHz; NaN when PESQ finds no utterance."""
    from pesq import PesqError, pesq

    if sample_rate != 16000:
        raise ValueError("PESQ-wb is defined at 16 kHz")
    try:
        return float(pesq(16000, ref, est, "wb", on_error=PesqError.RAISE_EXCEPTION))
    except PesqError:
        return float("nan")


def stoi_np(ref: np.ndarray, est: np.ndarray, sample_rate: int = 16000) -> float:
    """STOI (0-1) of two mono float arrays."""
    from pystoi import stoi

    return float(stoi(ref, est, sample_rate, extended=False))


def _pair(job: tuple[np.ndarray, np.ndarray, int, bool]) -> tuple[float, float]:
    ref, est, sample_rate, with_pesq = job
    return (pesq_wb_np(ref, est, sample_rate) if with_pesq else float("nan"), stoi_np(ref, est, sample_rate))


def workers() -> int:
    """How many processes score at once: ``COURSE_METRIC_WORKERS``, else the CPU cores this process
    may run on (at most 8)."""
    env = os.environ.get("COURSE_METRIC_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"COURSE_METRIC_WORKERS={env!r}: give a whole number (1 = no worker processes)"
                             ) from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def speech_scores(pairs: list[tuple[np.ndarray, np.ndarray]], sample_rate: int = 16000, pesq: bool = True,
                  n_workers: int | None = None) -> list[tuple[float, float]]:
    """(PESQ-wb, STOI) for each (reference, estimate) pair of mono float arrays, in order.

    PESQ is NaN where ``pesq`` is False (skipped) or where it finds no utterance.  Scored in worker
    processes when there are at least ``MIN_PARALLEL`` pairs and more than one worker; if the pool
    cannot start (a sandbox without process creation, say), scored here with a warning.
    """
    if pesq and sample_rate != 16000:
        raise ValueError("PESQ-wb is defined at 16 kHz")
    jobs = [(np.ascontiguousarray(r, dtype=np.float64), np.ascontiguousarray(e, dtype=np.float64), sample_rate, pesq)
            for r, e in pairs]
    n = workers() if n_workers is None else max(1, n_workers)
    n = min(n, len(jobs))
    if n > 1 and len(jobs) >= MIN_PARALLEL:
        from joblib import Parallel, delayed
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        try:
            return list(Parallel(n_jobs=n, backend="loky")(delayed(_pair)(j) for j in jobs))
        except (OSError, TerminatedWorkerError) as err:
            warnings.warn(f"speech_scores: worker processes failed ({err}); scoring in this process",
                          RuntimeWarning, stacklevel=2)
    return [_pair(j) for j in jobs]
