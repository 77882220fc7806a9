"""Notebook 06: polish the decoder, freeze the encoder."""
import torch


def freeze_encoder(model) -> torch.optim.Optimizer:
    for module in (model.encoder, model.bottleneck):
        module.requires_grad_(False)
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
