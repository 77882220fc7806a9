"""A room kit: one file that carries a built corpus and every checkpoint trained on it to other laptops.

A workshop teacher fills the checkpoint cache once (``make course PRESET=cpu``, about 36 min on 2
cores), then packs it::

    python scripts/room_kit.py pack --preset cpu            # -> build/kit-cpu-<corpus hash>.tar
    python scripts/room_kit.py unpack build/kit-cpu-….tar   # on each laptop, after `make setup`

(``make kit PRESET=cpu`` and ``make unkit KIT=…`` run the same.)  On a laptop that unpacked the kit
every notebook of that preset loads its models instead of training them, and the corpus is there
without festival, flite or fluidsynth: a laptop that cannot install the Debian packages (macOS, say)
still runs the course.

Why a kit and not ``cp -r``: checkpoints are found by a hash of their config *and of the corpus*,
so a cache copied beside a corpus that differs by one clip is silently never used, and every
notebook trains from scratch in the middle of the workshop.  ``unpack`` checks before it writes
anything: every file against the sha256 the kit lists, the corpus against the hash the checkpoints
were trained on, and a corpus already on the laptop against the kit's (it never replaces one).
Everything lands through temporary names in the target folders, then a rename: an interrupted
unpack leaves nothing that looks whole and is not.

Stdlib ``tarfile`` (uncompressed: wav and weights hardly compress) and ``hashlib``; which checkpoint
folders belong to a corpus, ``training.cached_folders`` says.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from course_lib import data, training  # noqa: E402
from course_lib.files import atomic_write, file_hash  # noqa: E402
from data_scripts.build_corpus import up_to_date_hash  # noqa: E402

FORMAT = 1
INDEX = "kit.json"


class KitError(RuntimeError):
    """The kit cannot be packed or unpacked here; the message says why and what to do."""


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def pack(preset: str, out: Path | None = None, corpus: Path | None = None, checkpoints: Path | None = None,
         progress: bool = True, seed: int | None = None) -> Path:
    """Write the kit for ``preset``'s corpus and its checkpoints; returns the kit's path.

    ``seed``: only the checkpoints trained with that seed (what the notebooks run with ``seed = N``
    load; a cache filled by ``make claims`` holds five seeds, five times the size).  None: all."""
    corpus = Path(corpus) if corpus is not None else data.corpus_dir(preset)
    checkpoints = Path(checkpoints) if checkpoints is not None else training.CHECKPOINT_ROOT
    if not up_to_date_hash(corpus, preset, 0):
        raise KitError(f"no complete {preset} corpus at {corpus}: build it first (make corpus PRESET={preset})")
    chash = data.corpus_hash(corpus)
    folders = training.cached_folders(chash, checkpoints)
    if seed is not None:
        folders = [d for d in folders if training.trained_seed(d) == seed]
    if not folders:
        print(f"no checkpoints trained on this corpus ({chash}) under {checkpoints}: the kit holds the corpus only "
              f"(run `make course PRESET={preset}` first to fill the cache)")
    files: list[tuple[str, Path]] = [(f"corpus/{preset}/{p.relative_to(corpus).as_posix()}", p)
                                     for p in sorted(corpus.rglob("*")) if p.is_file()]
    for d in folders:
        files += [(f"checkpoints/{d.name}/{p.relative_to(d).as_posix()}", p) for p in sorted(d.rglob("*"))
                  if p.is_file() and not p.name.endswith(".tmp") and p.name != "last.pt"]  # last.pt: resume only
    index = {"format": FORMAT, "preset": preset, "corpus_hash": chash, "commit": _commit(), "seed": seed,
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "checkpoint_folders": len(folders),
             "files": {}}
    for name, p in _bar(files, progress, "hashing"):
        index["files"][name] = {"size": p.stat().st_size, "sha256": file_hash(p)}
    out = Path(out) if out is not None else REPO / "build" / f"kit-{preset}-{chash}.tar"

    def write(tmp: str) -> None:
        with tarfile.open(tmp, "w") as tar:
            blob = json.dumps(index, indent=1).encode()
            info = tarfile.TarInfo(INDEX)  # first, so unpack reads it before any file
            info.size, info.mtime = len(blob), int(time.time())
            tar.addfile(info, io.BytesIO(blob))
            for name, p in _bar(files, progress, "packing"):
                tar.add(p, arcname=name, recursive=False)

    atomic_write(out, write)
    size = out.stat().st_size
    print(f"wrote {out}: the {preset} corpus (hash {chash}) and {len(folders)} checkpoint folders "
          f"({'every seed' if seed is None else f'seed {seed}'}), "
          f"{len(files)} files, {size / 2**20:.0f} MiB")
    return out


def _bar(items, progress: bool, desc: str):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="file")


def read_index(tar: tarfile.TarFile, kit: Path) -> dict:
    """The kit's index, checked: the right format, and safe relative names only."""
    try:
        member = tar.getmember(INDEX)
        index = json.loads(tar.extractfile(member).read())
    except (KeyError, ValueError, AttributeError) as e:
        raise KitError(f"{kit} is not a room kit ({INDEX} missing or unreadable: {e}); make one with "
                       "`make kit PRESET=cpu`") from None
    if index.get("format") != FORMAT:
        raise KitError(f"{kit} is a kit of format {index.get('format')}, this course reads format {FORMAT}: "
                       f"unpack it with the course commit it was made by ({index.get('commit')})")
    for name in index["files"]:
        parts = PurePosixPath(name).parts
        if (PurePosixPath(name).is_absolute() or ".." in parts or len(parts) < 3
                or parts[0] not in ("corpus", "checkpoints") or (parts[0] == "corpus" and parts[1] != index["preset"])):
            raise KitError(f"{kit}: refusing a file outside the kit's folders: {name!r}")
    return index


def unpack(kit: Path, data_root: Path | None = None, checkpoints: Path | None = None, progress: bool = True) -> dict:
    """Install the kit's corpus and checkpoints; returns what it did (corpus installed or already
    there, checkpoint folders added and already present).  Raises ``KitError`` before writing anything
    when the kit is damaged, foreign, or meets a different corpus already in place."""
    kit = Path(kit)
    if not kit.is_file():
        raise KitError(f"no kit at {kit}: pass the .tar that `make kit` wrote (make unkit KIT=path/to/kit-….tar)")
    data_root = Path(data_root) if data_root is not None else data.data_root()
    checkpoints = Path(checkpoints) if checkpoints is not None else training.CHECKPOINT_ROOT
    try:
        tar = tarfile.open(kit, "r:")
    except (tarfile.TarError, OSError) as e:
        raise KitError(f"{kit} is not a readable kit ({e}); copy it again") from None
    with tar:
        index = read_index(tar, kit)
        preset, chash = index["preset"], index["corpus_hash"]
        target = data_root / "corpus" / preset
        corpus_needed = True
        if target.exists():
            if (target / "manifest.csv").exists() and data.corpus_hash(target) == chash:
                corpus_needed = False
            else:
                found = data.corpus_hash(target) if (target / "manifest.csv").exists() else "not a corpus"
                raise KitError(f"{target} already holds another corpus ({found}; the kit's is {chash}). The kit's "
                               f"checkpoints were trained on its own corpus: move {target} away and unpack again")
        members = {m.name: m for m in tar.getmembers() if m.name != INDEX}
        listed = set(index["files"])
        if set(members) != listed:
            missing, extra = sorted(listed - set(members)), sorted(set(members) - listed)
            raise KitError(f"{kit} is damaged or was changed: {len(missing)} listed files missing "
                           f"({missing[:3]}), {len(extra)} unlisted ({extra[:3]}); copy it again")
        bad = [n for n, m in members.items() if not m.isfile()]
        if bad:
            raise KitError(f"{kit}: refusing entries that are not plain files: {bad[:3]}")
        wanted = [n for n in sorted(listed) if corpus_needed or not n.startswith("corpus/")]
        corpus_tmp = ckpt_tmp = None
        try:
            if corpus_needed:
                target.parent.mkdir(parents=True, exist_ok=True)
                corpus_tmp = Path(tempfile.mkdtemp(prefix=f".{preset}.kit-", dir=target.parent))
            checkpoints.mkdir(parents=True, exist_ok=True)
            ckpt_tmp = Path(tempfile.mkdtemp(prefix=".kit-", dir=checkpoints))
            for name in _bar(wanted, progress, "unpacking"):
                parts = PurePosixPath(name).parts
                dest = (corpus_tmp if parts[0] == "corpus" else ckpt_tmp).joinpath(*parts[1 + (parts[0] == "corpus"):])
                dest.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                with tar.extractfile(members[name]) as src, open(dest, "wb") as f:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        h.update(block)
                        f.write(block)
                if h.hexdigest() != index["files"][name]["sha256"]:
                    raise KitError(f"{kit} is damaged: {name} does not match its checksum; copy the kit again")
            if corpus_needed:
                if not up_to_date_hash(corpus_tmp, preset, 0) or data.corpus_hash(corpus_tmp) != chash:
                    raise KitError(f"{kit}: its corpus does not match this course's corpus builder (made by commit "
                                   f"{index.get('commit')}): check out that commit, or build the corpus here")
                corpus_tmp.chmod(0o755)
                os.replace(corpus_tmp, target)
                corpus_tmp = None
            _note_what_was_here(checkpoints, chash, kit)
            added, present = _move_checkpoints(ckpt_tmp, checkpoints)
        finally:
            for d in (corpus_tmp, ckpt_tmp):
                if d is not None and d.exists():
                    shutil.rmtree(d, ignore_errors=True)
    commit = _commit()
    if index.get("commit") and commit and index["commit"] != commit:
        print(f"note: the kit was made by commit {index['commit'][:10]}, this checkout is {commit[:10]}; a notebook "
              "whose configs changed in between trains those models again")
    print(f"{'installed' if corpus_needed else 'already here:'} the {preset} corpus ({chash}) at {target}; "
          f"{added} checkpoint folders added, {present} already here, in {checkpoints}")
    return {"corpus_installed": corpus_needed, "corpus": target, "added": added, "already_present": present}


def _marker(checkpoints: Path, chash: str) -> Path:
    return checkpoints / f"kit-{chash}.unpacked.json"


def _note_what_was_here(checkpoints: Path, chash: str, kit: Path) -> None:
    """Before the first unpack of a kit for this corpus, write down which finished checkpoint folders
    the cache already held: ``verify`` leaves those alone, so a laptop that ran the course before
    is not told that its own older models were "trained here".  A later unpack keeps the first list:
    what came after it came from a kit or was trained since."""
    marker = _marker(checkpoints, chash)
    if marker.exists():
        return
    here = [d.name for d in training.cached_folders(chash, checkpoints)]
    record = {"kit": Path(kit).name, "unpacked_at": time.strftime("%Y-%m-%d %H:%M:%S"), "here_before": here}
    atomic_write(marker, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1)))


def here_before(checkpoints: Path, chash: str) -> set[str]:
    """The checkpoint folders the cache held before the first unpack (empty when none was noted)."""
    marker = _marker(Path(checkpoints), chash)
    return set(json.loads(marker.read_text())["here_before"]) if marker.exists() else set()


def _move_checkpoints(staged: Path, checkpoints: Path) -> tuple[int, int]:
    """Move each staged folder's files into ``checkpoints`` (a file already there is kept: the same key
    holds the same model), the folder's final file last.  Returns (folders added, folders present)."""
    added = present = 0
    for folder in sorted(p for p in staged.iterdir() if p.is_dir()):
        dest = checkpoints / folder.name
        if any((dest / f).is_file() for f in training.FINAL_FILES):
            present += 1
            continue
        files = sorted((p for p in folder.rglob("*") if p.is_file()),
                       key=lambda p: (p.name in training.FINAL_FILES, str(p)))  # the final file last
        for p in files:
            out = dest / p.relative_to(folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not out.exists():
                os.replace(p, out)
        added += 1
    return added, present


def verify(kit: Path, checkpoints: Path | None = None) -> list[str]:
    """What in ``checkpoints`` the kit did not bring: one line per checkpoint folder trained here, per
    file of the kit changed or gone, per file added to a kit folder (a cache computed here).  Empty:
    every notebook that ran since the unpack loaded what the kit carries and trained nothing.
    Folders the cache held before the first unpack (``here_before``) are left out.

    A teacher runs it on one laptop after a dry run of the day's notebooks; ``make test`` runs it
    after executing the smoke notebooks from an unpacked kit."""
    checkpoints = Path(checkpoints) if checkpoints is not None else training.CHECKPOINT_ROOT
    try:
        with tarfile.open(kit, "r:") as tar:
            index = read_index(tar, Path(kit))
    except (tarfile.TarError, OSError) as e:
        raise KitError(f"{kit} is not a readable kit ({e})") from None
    before = here_before(checkpoints, index["corpus_hash"])
    kit_files = {n.removeprefix("checkpoints/"): f for n, f in index["files"].items()
                 if n.startswith("checkpoints/") and n.split("/")[1] not in before}  # kept local copies: not checked
    kit_folders = {n.split("/", 1)[0] for n in kit_files}
    problems = []
    for d in training.cached_folders(index["corpus_hash"], checkpoints):
        if d.name not in kit_folders and d.name not in before:
            problems.append(f"{d.name}: trained here, not in the kit")
    for name, f in sorted(kit_files.items()):
        p = checkpoints / name
        if not p.is_file():
            problems.append(f"{name}: in the kit, missing here")
        elif p.stat().st_size != f["size"] or file_hash(p) != f["sha256"]:
            problems.append(f"{name}: changed since the unpack")
    for folder in sorted(kit_folders):
        for p in sorted((checkpoints / folder).rglob("*")):
            rel = p.relative_to(checkpoints).as_posix()
            if p.is_file() and rel not in kit_files:
                problems.append(f"{rel}: written here, not in the kit")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="write the kit of a preset's corpus and checkpoints")
    p.add_argument("--preset", default="cpu", help="the preset whose corpus (and checkpoints) to pack")
    p.add_argument("--out", type=Path, default=None, help="default: build/kit-<preset>-<corpus hash>.tar")
    p.add_argument("--seed", default="all", help="only the checkpoints of this seed (the notebooks' `seed`), or all")
    u = sub.add_parser("unpack", help="install a kit's corpus and checkpoints on this machine")
    u.add_argument("kit", type=Path)
    v = sub.add_parser("verify", help="after running notebooks from an unpacked kit: was anything trained here?")
    v.add_argument("kit", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.command == "pack":
            from course_lib.presets import get

            if args.seed != "all" and not args.seed.isdigit():
                raise KitError(f"--seed {args.seed}: give a seed (0, 1, ...) or all")
            pack(get(args.preset).corpus, args.out, seed=None if args.seed == "all" else int(args.seed))
        elif args.command == "unpack":
            unpack(args.kit)
        else:
            problems = verify(args.kit)
            for line in problems:
                print(f"not from the kit: {line}", file=sys.stderr)
            if problems:
                print(f"error: {len(problems)} checkpoint files did not come from {args.kit}: a notebook trained or "
                      "recomputed them (a config changed since the kit was made?)", file=sys.stderr)
                return 1
            print(f"every checkpoint in {training.CHECKPOINT_ROOT} came from {args.kit}: nothing was trained here")
            with tarfile.open(args.kit, "r:") as tar:
                before = here_before(training.CHECKPOINT_ROOT, read_index(tar, args.kit)["corpus_hash"])
            if before:
                print(f"({len(before)} folders were in the cache before the unpack and were not checked)")
    except KitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
