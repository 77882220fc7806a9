"""Notebook 04: a KL bottleneck's rate in nats per second."""
import torch


def kl_nats_per_second(mean: torch.Tensor, logvar: torch.Tensor, frame_rate: float) -> torch.Tensor:
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)  # per element, nats
    return kl.sum(dim=1).mean() * frame_rate  # per frame (all channels), then per second
