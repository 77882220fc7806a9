"""Notebook 00: mix noise into a clean clip at a given SNR."""
import torch


def add_noise(clean: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    p_clean = clean.pow(2).mean()
    p_noise = noise.pow(2).mean().clamp_min(1e-12)  # an all-zero noise would otherwise divide by zero
    # SNR = 10 log10(p_clean / (g^2 p_noise))  =>  g = sqrt(p_clean / (p_noise 10^(SNR/10)))
    gain = torch.sqrt(p_clean / (p_noise * 10 ** (snr_db / 10)))
    return clean + gain * noise
