"""Notebook 01: one vector per phone, the mean of the frames in its span."""
import torch


def pool_spans(h: torch.Tensor, spans: torch.Tensor, n_slots: int) -> torch.Tensor:
    b, d, f = h.shape
    total = h.new_zeros(b, d, n_slots).scatter_add_(2, spans[:, None, :].expand(b, d, f), h)
    count = h.new_zeros(b, 1, n_slots).scatter_add_(2, spans[:, None, :], h.new_ones(b, 1, f))
    return total / count.clamp_min(1.0)  # an empty slot stays zero instead of 0/0
