"""Latent topologies (models.py): one interface, four coordinate systems."""

import pytest
import torch

from course_lib import data
from course_lib.models import (
    Autoencoder,
    ModelConfig,
    chunk_spans,
    span_expand,
    span_mean,
    span_positions,
)

SMALL = dict(dim=32, enc_blocks=(1, 1), dec_blocks=(1, 1))


def phone_like_spans(batch, frames, every=9):
    return (torch.arange(frames) // every).expand(batch, frames).contiguous()


def test_span_mean_and_expand_invert_on_constant_spans():
    spans = torch.tensor([[0, 0, 1, 1, 1, 2]])
    h = torch.tensor([[[1.0, 3.0, 2.0, 2.0, 5.0, 7.0]]])
    pooled = span_mean(h, spans, 3)
    assert torch.allclose(pooled, torch.tensor([[[2.0, 3.0, 7.0]]]))
    assert torch.allclose(span_expand(pooled, spans), torch.tensor([[[2.0, 2.0, 3.0, 3.0, 3.0, 7.0]]]))


def test_span_positions_encode_place_and_length():
    spans = torch.tensor([[0, 0, 0, 0, 1, 1]])
    pos = span_positions(spans)
    assert pos.shape == (1, 7, 6)
    assert pos[0, 6, 0] > pos[0, 6, 4]  # the 4-frame span is longer than the 2-frame one
    assert not torch.allclose(pos[0, :6, 0], pos[0, :6, 3])  # first and last frame of a span differ


@pytest.mark.parametrize("topology,kw,slots", [
    ("grid", dict(latent_rate=12.5, width=64), 13),  # 1 s padded up to 13 frames of 80 ms
    ("chunk", dict(chunk_s=0.32, width=256), 4),  # 1 s padded up to 4 chunks
    ("global+frame", dict(latent_rate=12.5, width=64), 14),  # 1 global slot + 13 frames
    ("phone", dict(width=64), 12),  # 100 frames / 9 per phone -> 12 phones
])
def test_every_topology_round_trips_shapes(topology, kw, slots):
    m = Autoencoder(ModelConfig(topology=topology, **kw, **SMALL))
    x = torch.randn(2, 1, 16000) * 0.1
    spans = phone_like_spans(2, 100) if topology == "phone" else None
    y, out = m(x, spans=spans)
    assert out.z.shape == (2, kw["width"], slots)
    assert y.shape == x.shape
    y.pow(2).mean().backward()
    assert m.encoder.inp.weight.grad.abs().sum() > 0


def test_phone_topology_without_spans_is_a_clear_error():
    m = Autoencoder(ModelConfig(topology="phone", **SMALL))
    with pytest.raises(ValueError, match="phone topology needs spans"):
        m.encode(torch.randn(1, 1, 1600))


def test_unknown_topology_and_bad_chunk():
    with pytest.raises(ValueError, match="unknown topology"):
        ModelConfig(topology="tokens")
    with pytest.raises(ValueError, match="whole number of STFT hops"):
        _ = ModelConfig(topology="chunk", chunk_s=0.333).chunk_frames


def test_phone_latent_depends_only_on_its_own_span_at_decode():
    # Changing one phone's vector must change the audio of that phone's frames the most.
    m = Autoencoder(ModelConfig(topology="phone", width=8, **SMALL)).eval()
    spans = phone_like_spans(1, 100, every=25)  # 4 phones of 250 ms
    z = torch.randn(1, 8, 4)
    y0 = m.decode(z, 16000, spans=spans)
    z2 = z.clone()
    z2[..., 3] += 3.0
    diff = (m.decode(z2, 16000, spans=spans) - y0).abs()[0, 0]
    assert diff[12800:].mean() > 5 * diff[:8000].mean()


def test_slot_index_matches_latent_layout():
    m = Autoencoder(ModelConfig(topology="global+frame", latent_rate=25.0, width=8, **SMALL))
    idx = m.slot_index(100)
    assert idx.shape == (1, 100) and int(idx.min()) == 1 and int(idx.max()) == 25  # slot 0 is global
    c = Autoencoder(ModelConfig(topology="chunk", chunk_s=0.2, width=8, **SMALL))
    assert torch.equal(c.slot_index(40), chunk_spans(40, 20))


def test_scalars_per_second_is_equal_across_the_grid_sweep():
    rates = [(50.0, 16), (25.0, 32), (12.5, 64), (6.25, 128)]
    assert {ModelConfig(latent_rate=r, width=w).scalars_per_second() for r, w in rates} == {800.0}


def test_phone_spans_from_labels():
    labels = {"phones": [{"phone": "pau", "start": 0.0, "end": 0.05},
                         {"phone": "a", "start": 0.05, "end": 0.12},
                         {"phone": "b", "start": 0.12, "end": 0.2}]}
    spans, names = data.phone_spans(labels, 22)
    assert names == ["pau", "a", "b"]
    assert spans.tolist() == [0] * 5 + [1] * 7 + [2] * 10  # frames past the end stay in the last phone
    with pytest.raises(data.CorpusError, match="no phone timings"):
        data.phone_spans({"domain": "music"}, 10)


def test_clipbank_crops_come_with_renumbered_spans():
    clips = [torch.randn(1, 16000), torch.randn(1, 8000)]
    tracks = [torch.arange(100) // 10, torch.arange(50) // 5]
    bank = data.ClipBank(clips, spans=tracks)
    g = torch.Generator().manual_seed(0)
    x, spans = bank.sample_with_spans(6, 6400, g)
    assert x.shape == (6, 1, 6400) and spans.shape == (6, 40)
    assert (spans[:, 0] == 0).all()
    assert (spans.diff(dim=1) >= 0).all() and (spans.diff(dim=1) <= 1).all()
    with pytest.raises(ValueError, match="no phone spans"):
        data.ClipBank(clips).sample_with_spans(2, 1600, g)
