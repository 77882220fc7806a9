import pytest
import torch

from course_lib import data


def test_manifest_and_select(fake_corpus):
    df = data.read_manifest(fake_corpus)
    train = data.select(df, split="train", domain="speech")
    assert len(train) == 4 and set(train["domain"]) == {"speech"}
    both = data.select(df, split=["train", "valid"])
    assert len(both) > len(train)


def test_missing_corpus_says_how_to_build(tmp_path):
    with pytest.raises(data.CorpusError, match="make corpus"):
        data.read_manifest(tmp_path / "nowhere")
    with pytest.raises(data.CorpusError, match="make corpus"):
        data.corpus_hash(tmp_path / "nowhere")


def test_corpus_hash_tracks_manifest(fake_corpus):
    h1 = data.corpus_hash(fake_corpus)
    assert h1 == data.corpus_hash(fake_corpus)
    m = fake_corpus / "manifest.csv"
    m.write_text(m.read_text().replace("train", "valid", 1))
    assert data.corpus_hash(fake_corpus) != h1


def test_clipbank_is_seeded_and_shaped(fake_corpus):
    df = data.read_manifest(fake_corpus)
    bank = data.ClipBank.from_manifest(fake_corpus, data.select(df, domain="speech"))
    a = bank.sample(4, 8000, torch.Generator().manual_seed(1))
    b = bank.sample(4, 8000, torch.Generator().manual_seed(1))
    assert a.shape == (4, 1, 8000) and torch.equal(a, b)
    long = bank.sample(2, 40000, torch.Generator().manual_seed(0))  # longer than any clip: zero padded
    assert long.shape == (2, 1, 40000) and long[:, :, -100:].abs().max() == 0


def test_clipbank_channel_conversion(fake_corpus):
    df = data.read_manifest(fake_corpus)
    bank = data.ClipBank.from_manifest(fake_corpus, data.select(df, domain="speech"), channels=2)
    assert bank.sample(1, 1000, torch.Generator()).shape[1] == 2


def test_empty_selection_is_clear(fake_corpus):
    df = data.read_manifest(fake_corpus)
    with pytest.raises(data.CorpusError, match="no clips"):
        data.ClipBank.from_manifest(fake_corpus, data.select(df, domain="effects"))


def test_eval_clips_deterministic(fake_corpus):
    df = data.read_manifest(fake_corpus)
    clips, names = data.eval_clips(fake_corpus, data.select(df, domain="speech"), n=2, max_seconds=0.5)
    assert names == sorted(names) and clips[0].shape == (1, 8000)


def test_eval_clips_spread_covers_the_whole_split(fake_corpus):
    df = data.select(data.read_manifest(fake_corpus), domain="speech")
    order = sorted(df["clip_id"])  # 6 clips
    _, first = data.eval_clips(fake_corpus, df, n=3)
    _, spread = data.eval_clips(fake_corpus, df, n=3, spread=True)
    assert first == order[:3]
    assert spread == [order[0], order[2], order[5]]  # evenly spaced, first and last included
    assert data.eval_clips(fake_corpus, df, n=3, spread=True)[1] == spread  # deterministic
    assert data.eval_clips(fake_corpus, df, n=10, spread=True)[1] == order  # n >= rows: all of them


def test_regime_masks_partition_and_find_onset():
    x = torch.zeros(1, 16000)
    x[0, 8000:] = 0.5 * torch.sin(torch.arange(8000) * 0.3)  # silence, then a sudden tone
    m = data.regime_masks(x)
    total = m["silence"].int() + m["transient"].int() + m["steady"].int()
    assert torch.all(total == 1)
    assert m["silence"][:40].all() and m["transient"][50] and m["steady"][70:].all()


def test_corpus_hash_tracks_builder_version(fake_corpus):
    (fake_corpus / "corpus.json").write_text('{"builder_version": "1.0.0"}')
    h1 = data.corpus_hash(fake_corpus)
    (fake_corpus / "corpus.json").write_text('{"builder_version": "1.1.0"}')
    assert data.corpus_hash(fake_corpus) != h1
