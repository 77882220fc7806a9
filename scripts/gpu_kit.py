"""Pack what a lent GPU machine needs and cannot make itself: the corpus and the missing wheels.

The device machine (README, "On a GPU") has Python 3.12 with PyTorch, but no festival or flite to
render the corpus, no package index, and it takes at most 64 MiB of working tree per call. This
writes ``.gpukit/`` (git-ignored; name it in the call's ``carry``):

- ``corpus/``: the clean speech and clean music of a built corpus (default ``cpu``) as FLAC, which
  is lossless (the samples read back bit-identical, at about half the bytes), with their label
  files and a manifest of those rows only; plus, as training music, the pieces of a
  ``--music-pieces`` music corpus rendered by the same builder that the corpus lacks (the music
  model needs more than the `cpu` corpus's 44 to learn new music);
- ``whl/``: wheels (CPython 3.12, manylinux x86-64) of the runtime packages the device image lacks,
  at the versions this checkout's ``.venv`` runs, and pesq's source (pesq publishes no wheel;
  ``scripts/gpu_check.sh`` compiles it there with the image's Cython).

Then, on the device: ``bash scripts/gpu_check.sh`` (see that file for the exact call).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course_lib import data  # noqa: E402

KIT = REPO / ".gpukit"
LIMIT_MIB = 64  # the device call's working-tree limit, the repository's tracked files included
# Music pieces the kit renders (the cpu corpus's 54 among them): the music model needs more than the
# corpus's 44 training pieces to learn new music, and the extra ~0.15 MiB per piece (FLAC) is what
# the call has room for beside the speech and the wheels.
MUSIC_PIECES = 140
# The Python distributions the device image holds (its package list, kept in device_image.txt);
# tests/test_gpu_kit.py checks that everything the GPU check imports is there or in WHEELS.
DEVICE_IMAGE = frozenset(line.strip() for line in (REPO / "scripts" / "device_image.txt").read_text().splitlines()
                         if line.strip() and not line.startswith("#"))
# The check's run-time requirements (its imports and what they require, for Python 3.12 on Linux)
# that the image lacks: wheels, at this venv's versions.
WHEELS = ("auraloss", "soundfile", "cffi", "pycparser", "nnAudio", "pystoi", "librosa", "soxr", "audioread",
          "decorator", "pooch", "platformdirs", "tzdata")
SDISTS = ("pesq",)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64", "any")


def _copy_as_flac(src: Path, dst: Path, rows):
    """Copy ``rows`` of corpus ``src`` into ``dst`` as FLAC, with their label files; returns the rows
    with their new paths and the bytes of wav they came from."""
    rows = rows.copy()
    wav_bytes = 0
    for i, row in rows.iterrows():
        wav = src / row["path"]
        flac = Path(row["path"]).with_suffix(".flac")
        (dst / flac).parent.mkdir(parents=True, exist_ok=True)
        audio, sr = sf.read(wav, dtype="int16", always_2d=True)
        sf.write(dst / flac, audio, sr, format="FLAC", subtype="PCM_16")
        wav_bytes += wav.stat().st_size
        rows.at[i, "path"] = flac.as_posix()
        if row["labels"]:
            (dst / row["labels"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / row["labels"], dst / row["labels"])
    return rows, wav_bytes


def _write_manifest(dst: Path, rows, meta: dict) -> None:
    """corpus.json, then the manifest through a temporary name: a corpus is whole once it has one."""
    (dst / "corpus.json").write_text(json.dumps(meta, indent=1))
    tmp = dst / "manifest.csv.tmp"
    rows.to_csv(tmp, index=False)
    tmp.rename(dst / "manifest.csv")


def pack_corpus(src: Path, dst: Path, domains=("speech", "music"), conditions=("clean",)) -> dict:
    """Copy the ``domains`` x ``conditions`` clips of corpus ``src`` into ``dst`` as FLAC.

    Writes ``dst/manifest.csv`` (those rows, paths pointing at the FLAC files) and ``corpus.json``
    (the source's, plus where it was packed from) last, through a temporary name, so an
    interrupted pack leaves no corpus that looks whole. Returns a summary (clips, bytes).
    """
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents or \
            dst.resolve() in src.resolve().parents:
        raise ValueError(f"pack into a folder apart from the source corpus: {dst} overlaps {src}")
    df = data.read_manifest(src)
    rows = df[df["domain"].isin(domains) & df["condition"].isin(conditions)]
    if rows.empty:
        raise data.CorpusError(f"{src}: no clips of domains {domains} and conditions {conditions}")
    if dst.exists():
        shutil.rmtree(dst)
    rows, wav_bytes = _copy_as_flac(src, dst, rows)
    meta = json.loads((src / "corpus.json").read_text()) if (src / "corpus.json").exists() else {}
    meta.update(packed_from=str(src), packed_domains=list(domains), packed_conditions=list(conditions),
                n_clips=len(rows))
    _write_manifest(dst, rows, meta)
    return {"clips": len(rows), "wav_bytes": wav_bytes, "bytes": tree_bytes(dst)}


def add_training_music(extra: Path, dst: Path) -> dict:
    """Add to the packed corpus ``dst`` the clean music pieces of corpus ``extra`` that ``dst`` does
    not hold (by clip id), all as training pieces.

    Why: the music model trained on the `cpu` corpus's 44 pieces learns them and not new music
    (benchmarks/experiments/music_data.py: held-out mel 0.90 against 0.62 on its own pieces); with
    260 it beat mel + Griffin-Lim. ``extra`` comes from ``build_corpus.music_corpus``, whose piece
    *i* is the source corpus's piece *i*, so pieces the source holds out never enter training.
    """
    extra, dst = Path(extra), Path(dst)
    packed = data.read_manifest(dst)
    df = data.read_manifest(extra)
    rows = df[(df["domain"] == "music") & (df["condition"] == "clean") & ~df["clip_id"].isin(set(packed["clip_id"]))]
    rows = rows.assign(split="train")
    rows, wav_bytes = _copy_as_flac(extra, dst, rows)
    meta = json.loads((dst / "corpus.json").read_text())
    meta.update(extra_training_music={"from": str(extra), "pieces": len(rows)}, n_clips=len(packed) + len(rows))
    _write_manifest(dst, pd.concat([packed, rows], ignore_index=True), meta)
    return {"clips": len(rows), "wav_bytes": wav_bytes, "bytes": tree_bytes(dst)}


def tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def fetch_wheels(dst: Path, python: str = sys.executable) -> list[str]:
    """Download WHEELS (binary, for the device's Python) and SDISTS at this venv's versions."""
    dst.mkdir(parents=True, exist_ok=True)
    plat = [a for p in PLATFORMS for a in ("--platform", p)]

    def pinned(name):
        try:
            return f"{name}=={md.version(name)}"
        except md.PackageNotFoundError:  # needed there but not here (e.g. audioop-lts, Python >= 3.13 only)
            return name

    for name in WHEELS:
        subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *plat, "-d", str(dst), pinned(name)],
                       check=True)
    for name in SDISTS:  # --no-build-isolation: reading its metadata needs Cython, which the venv has
        subprocess.run([python, "-m", "pip", "download", "-q", "--no-deps", "--no-binary=:all:",
                        "--no-build-isolation", "-d", str(dst), pinned(name)], check=True)
    return sorted(p.name for p in dst.iterdir())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=None, help="source corpus dir (default: data/corpus/cpu)")
    ap.add_argument("--out", type=Path, default=KIT)
    ap.add_argument("--domains", nargs="+", default=["speech", "music"])
    ap.add_argument("--no-wheels", action="store_true", help="pack the corpus only")
    ap.add_argument("--music-pieces", type=int, default=MUSIC_PIECES,
                    help=f"render this many music pieces and add those the corpus lacks as training music "
                         f"(default {MUSIC_PIECES}: as many as fit the call; 0: the corpus's own)")
    args = ap.parse_args(argv)
    src = args.corpus or data.corpus_dir("cpu")
    summary = pack_corpus(src, args.out / "corpus", domains=tuple(args.domains))
    print(f"corpus: {summary['clips']} clips, {summary['wav_bytes'] / 2**20:.1f} MiB of wav -> "
          f"{summary['bytes'] / 2**20:.1f} MiB in {args.out / 'corpus'}")
    if args.music_pieces and "music" in args.domains:
        sys.path.insert(0, str(REPO / "data_scripts"))
        import build_corpus

        # the source's seed: piece i is then the very piece i of the source (its held-out ones included)
        seed = json.loads((Path(src) / "corpus.json").read_text()).get("seed", 0)
        extra = build_corpus.music_corpus(args.music_pieces, REPO / "build" / f"corpus-music{args.music_pieces}",
                                          seed=seed)
        more = add_training_music(extra, args.out / "corpus")
        packed = data.read_manifest(args.out / "corpus")
        n_train = int((packed["domain"].eq("music") & packed["split"].eq("train")).sum())
        print(f"music: {more['clips']} more training pieces ({n_train} in all) -> "
              f"{more['bytes'] / 2**20:.1f} MiB in {args.out / 'corpus'}")
    if not args.no_wheels:
        names = fetch_wheels(args.out / "whl")
        print(f"wheels: {len(names)} files, {tree_bytes(args.out / 'whl') / 2**20:.1f} MiB in {args.out / 'whl'}")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    repo_bytes = sum((REPO / f).stat().st_size for f in tracked.decode().split("\0") if f and (REPO / f).is_file())
    total = (tree_bytes(args.out) + repo_bytes) / 2**20
    print(f"a device call carries about {total:.1f} MiB (limit {LIMIT_MIB} MiB)")
    if total > LIMIT_MIB:
        print("too large: pack fewer domains (--domains speech)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
