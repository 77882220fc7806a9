"""Notebook 02: the mid/side view of a stereo clip."""
import torch


def mid_side(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    left, right = x[:, 0], x[:, 1]
    return (left + right) / 2, (left - right) / 2
