"""Shared setup of the experiment scripts: arguments, the checkpoint folder, quiet warnings."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--preset", default="cpu", help="smoke (seconds, a check that the script runs) or cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--checkpoints", default=None,
                   help="checkpoint folder (default: build/experiments/<script>-<preset>; a re-run loads from it)")
    return p


def use_checkpoints(args, name: str) -> Path:
    """Point ``training.CHECKPOINT_ROOT`` at the experiment's own folder (set before course_lib loads)."""
    folder = Path(args.checkpoints or REPO / "build" / "experiments" / f"{name}-{args.preset}")
    os.environ["COURSE_CHECKPOINTS"] = str(folder)
    training = sys.modules.get("course_lib.training")
    if training is not None:  # already imported (a test, a notebook): its root was read at import
        training.CHECKPOINT_ROOT = folder
    warnings.filterwarnings("ignore")
    return folder
