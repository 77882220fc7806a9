"""The room kit: a corpus and its checkpoints packed on one machine load on another without
training; a damaged, foreign or clashing kit stops before it writes anything."""

import importlib
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import load_script, make_fake_corpus, mark_built

from course_lib import data, presets, training
from course_lib.models import ModelConfig

REPO = Path(__file__).resolve().parent.parent
kit_mod = load_script(REPO / "scripts" / "room_kit.py", "room_kit")  # puts the repository on sys.path
up_to_date_hash = importlib.import_module("data_scripts.build_corpus").up_to_date_hash


def tiny_preset():
    p = presets.get("smoke")
    return replace(p, model=ModelConfig(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1)),
                   train=replace(p.train, steps=4, batch_size=2, checkpoint_every=2, warmup=1))


def as_built(corpus: Path, preset="smoke") -> Path:
    corpus = mark_built(corpus, preset)
    assert up_to_date_hash(corpus, preset, 0)
    return corpus


@pytest.fixture()
def teacher_room(tmp_path):
    """A teacher's machine: a built corpus, one trained codec, an unfinished run and another corpus's checkpoint."""
    corpus = as_built(make_fake_corpus(tmp_path / "teacher" / "corpus" / "smoke"))
    ck = tmp_path / "teacher" / "checkpoints"
    run = training.train_or_load(tiny_preset(), corpus=corpus, root=ck, progress=False)
    (ck / "unfinished").mkdir()
    (ck / "unfinished" / "last.pt").write_bytes(b"half a run")
    (ck / "other-corpus").mkdir()
    (ck / "other-corpus" / "model.pt").write_bytes(b"x")
    (ck / "other-corpus" / "info.json").write_text(json.dumps({"corpus_hash": "0123456789abcdef"}))
    kit = kit_mod.pack("smoke", tmp_path / "kit.tar", corpus=corpus, checkpoints=ck, progress=False)
    return {"corpus": corpus, "ck": ck, "run": run, "kit": kit}


def laptop(tmp_path, name="laptop"):
    return tmp_path / name / "data", tmp_path / name / "checkpoints"


def written(*roots):
    return sorted(str(p) for r in roots if r.exists() for p in r.rglob("*"))


def test_a_kit_installs_the_corpus_and_its_checkpoints_load_without_training(teacher_room, tmp_path):
    with tarfile.open(teacher_room["kit"]) as tar:
        names = tar.getnames()
    assert names[0] == "kit.json"
    assert not any("unfinished" in n or "other-corpus" in n or n.endswith("last.pt") for n in names)
    data_root, ck = laptop(tmp_path)
    done = kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    assert done["corpus_installed"] and done["added"] == 1 and done["already_present"] == 0
    corpus = data_root / "corpus" / "smoke"
    assert data.corpus_hash(corpus) == data.corpus_hash(teacher_room["corpus"])
    assert up_to_date_hash(corpus, "smoke", 0)  # ensure_corpus will not try to render it again
    again = training.train_or_load(tiny_preset(), corpus=corpus, root=ck, progress=False)
    assert again.info["loaded"]
    for a, b in zip(teacher_room["run"].model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    assert not [p for p in written(data_root, ck) if "/." in p]  # no temporary folders left behind
    # a second unpack changes nothing and says so
    before = {p: Path(p).stat().st_mtime_ns for p in written(data_root, ck)}
    done = kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    assert not done["corpus_installed"] and done["added"] == 0 and done["already_present"] == 1
    assert {p: Path(p).stat().st_mtime_ns for p in written(data_root, ck)} == before


def test_a_damaged_kit_writes_nothing(teacher_room, tmp_path):
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(teacher_room["kit"].read_bytes())
    with tarfile.open(damaged) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("model.pt"))
    with open(damaged, "r+b") as f:  # flip one byte of the weights
        f.seek(member.offset_data + member.size // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    data_root, ck = laptop(tmp_path)
    with pytest.raises(kit_mod.KitError, match="checksum"):
        kit_mod.unpack(damaged, data_root, ck, progress=False)
    assert not (data_root / "corpus" / "smoke").exists()
    assert not [p for p in written(data_root, ck) if Path(p).is_file()]  # at most empty folders
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(teacher_room["kit"].read_bytes()[:4096])
    with pytest.raises(kit_mod.KitError):
        kit_mod.unpack(truncated, data_root, ck, progress=False)
    assert not (data_root / "corpus" / "smoke").exists()


def test_a_different_corpus_already_there_is_never_replaced(teacher_room, tmp_path):
    data_root, ck = laptop(tmp_path)
    other = as_built(make_fake_corpus(data_root / "corpus" / "smoke", n_speech=4))
    before = (other / "manifest.csv").read_bytes()
    with pytest.raises(kit_mod.KitError, match="another corpus"):
        kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    assert (other / "manifest.csv").read_bytes() == before and not ck.exists()


def test_what_is_not_a_kit_gets_a_clear_error(teacher_room, tmp_path):
    data_root, ck = laptop(tmp_path)
    with pytest.raises(kit_mod.KitError, match="no kit at"):
        kit_mod.unpack(tmp_path / "missing.tar", data_root, ck, progress=False)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar file at all" * 100)
    with pytest.raises(kit_mod.KitError, match="not a readable kit"):
        kit_mod.unpack(junk, data_root, ck, progress=False)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(teacher_room["corpus"] / "manifest.csv", arcname="manifest.csv")
    with pytest.raises(kit_mod.KitError, match="not a room kit"):
        kit_mod.unpack(plain, data_root, ck, progress=False)
    sneaky = tmp_path / "sneaky.tar"  # an index naming a file outside the kit's folders
    with tarfile.open(teacher_room["kit"]) as src, tarfile.open(sneaky, "w") as dst:
        index = json.loads(src.extractfile("kit.json").read())
        index["files"]["corpus/smoke/../../../evil.txt"] = {"size": 1, "sha256": "0"}
        blob = json.dumps(index).encode()
        info = tarfile.TarInfo("kit.json")
        info.size = len(blob)
        dst.addfile(info, io.BytesIO(blob))
    with pytest.raises(kit_mod.KitError, match="outside the kit"):
        kit_mod.unpack(sneaky, data_root, ck, progress=False)
    assert not data_root.exists() and not ck.exists()


def test_pack_needs_a_complete_corpus(tmp_path):
    corpus = make_fake_corpus(tmp_path / "corpus" / "smoke")  # no corpus.json: not a finished build
    with pytest.raises(kit_mod.KitError, match="make corpus PRESET=smoke"):
        kit_mod.pack("smoke", tmp_path / "kit.tar", corpus=corpus, checkpoints=tmp_path / "ck", progress=False)
    assert not (tmp_path / "kit.tar").exists()


def test_verify_says_whether_anything_was_trained_after_the_unpack(teacher_room, tmp_path):
    data_root, ck = laptop(tmp_path)
    kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    corpus = data_root / "corpus" / "smoke"
    training.train_or_load(tiny_preset(), corpus=corpus, root=ck, progress=False)  # loads
    assert kit_mod.verify(teacher_room["kit"], ck) == []
    # a model the kit lacks is trained here: named
    other = replace(tiny_preset(), train=replace(tiny_preset().train, seed=1))
    trained = training.train_or_load(other, corpus=corpus, root=ck, progress=False)
    problems = kit_mod.verify(teacher_room["kit"], ck)
    assert problems == [f"{Path(trained.info['dir']).name}: trained here, not in the kit"]
    # a kit file overwritten, and a file added to a kit folder: both named
    folder = Path(teacher_room["run"].info["dir"]).name
    info = ck / folder / "info.json"
    info.write_text(info.read_text() + " ")
    (ck / folder / "cache.pt").write_bytes(b"computed here")
    problems = kit_mod.verify(teacher_room["kit"], ck)
    assert f"{folder}/info.json: changed since the unpack" in problems
    assert f"{folder}/cache.pt: written here, not in the kit" in problems
    (ck / folder / "model.pt").unlink()
    assert f"{folder}/model.pt: in the kit, missing here" in kit_mod.verify(teacher_room["kit"], ck)
    # the command line: exit status 1 and the lines on stderr
    with pytest.raises(SystemExit):
        kit_mod.main(["verify"])


def test_a_kit_for_one_seed_carries_only_that_seeds_checkpoints(teacher_room, tmp_path):
    ck = teacher_room["ck"]
    other = replace(tiny_preset(), train=replace(tiny_preset().train, seed=1))
    seed1 = training.train_or_load(other, corpus=teacher_room["corpus"], root=ck, progress=False)
    seed0 = Path(teacher_room["run"].info["dir"]).name
    assert training.trained_seed(ck / seed0) == 0 and training.trained_seed(Path(seed1.info["dir"])) == 1
    assert training.trained_seed(ck / "unfinished") is None
    one = Path(seed1.info["dir"]).name
    for seed, expect in ((0, {seed0}), (1, {one}), (None, {seed0, one})):
        kit = kit_mod.pack("smoke", tmp_path / f"kit-{seed}.tar", corpus=teacher_room["corpus"], checkpoints=ck,
                           progress=False, seed=seed)
        with tarfile.open(kit) as tar:
            index = json.load(tar.extractfile("kit.json"))
            folders = {n.split("/")[1] for n in tar.getnames() if n.startswith("checkpoints/")}
        assert folders == expect and index["seed"] == seed
    # the command line refuses a seed that is not a number or "all", before it reads anything
    assert kit_mod.main(["pack", "--preset", "smoke", "--seed", "zero", "--out", str(tmp_path / "x.tar")]) == 1
    assert not (tmp_path / "x.tar").exists()


def test_verify_leaves_alone_what_the_laptop_held_before_the_unpack(teacher_room, tmp_path):
    data_root, ck = laptop(tmp_path)
    corpus = data_root / "corpus" / "smoke"
    corpus.parent.mkdir(parents=True)
    import shutil

    shutil.copytree(teacher_room["corpus"], corpus)  # the same corpus, built on the laptop before
    own = replace(tiny_preset(), train=replace(tiny_preset().train, seed=2))
    older = Path(training.train_or_load(own, corpus=corpus, root=ck, progress=False).info["dir"]).name
    # the kit's own model, trained here too before the unpack: the same key, other bytes possible
    same = Path(training.train_or_load(tiny_preset(), corpus=corpus, root=ck, progress=False).info["dir"]).name
    (ck / same / "info.json").write_text((ck / same / "info.json").read_text() + " ")
    kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    assert kit_mod.here_before(ck, data.corpus_hash(corpus)) == {older, same}
    assert kit_mod.verify(teacher_room["kit"], ck) == []  # neither is "trained here"
    # what is trained after the unpack is still named, and a second unpack does not forget the first list
    other = replace(tiny_preset(), train=replace(tiny_preset().train, seed=1))
    trained = Path(training.train_or_load(other, corpus=corpus, root=ck, progress=False).info["dir"]).name
    kit_mod.unpack(teacher_room["kit"], data_root, ck, progress=False)
    assert kit_mod.verify(teacher_room["kit"], ck) == [f"{trained}: trained here, not in the kit"]
