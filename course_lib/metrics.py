"""Objective scores for decoded audio.  Higher is better except for distances and errors.

- ``si_sdr``: scale-invariant SDR in dB (torchmetrics).  Waveform-exact: punishes phase changes.
- ``mel_distance``: mean absolute log-mel difference (natural-log units) at one resolution.
- ``mrstft_distance``: auraloss multi-resolution STFT loss used as a distance.
- ``frechet_mel_distance``: a distance between two *sets* of clips (their log-mel frames' Gaussians),
  blind to which estimate belongs to which reference.
- ``pesq_wb``: wide-band PESQ (ITU-T P.862.2, 1.0-4.6), speech at 16 kHz only (``pesq`` package).
- ``stoi``: short-time objective intelligibility (0-1), ``pystoi``.
  Over many clips both run in worker processes (``speech_scores``): they are the slow ones.

``score`` runs them over lists of clips and returns the means, the table every notebook prints.
"""

from __future__ import annotations

import numpy as np
import torch
import torchaudio

from course_lib import speech_scores
from course_lib.losses import multires_stft

_MEL = {}


def _mel(sample_rate: int) -> torchaudio.transforms.MelSpectrogram:
    if sample_rate not in _MEL:
        _MEL[sample_rate] = torchaudio.transforms.MelSpectrogram(
            sample_rate, n_fft=1024, hop_length=256, n_mels=80, power=1.0
        )
    return _MEL[sample_rate]


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> float:
    # imported here: torchmetrics takes ~5 s to import, and the trainer (every torchrun worker) needs
    # this module's other metrics but never SI-SDR
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    return float(scale_invariant_signal_distortion_ratio(est, ref).mean())


def mel_distance(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    m = _mel(sample_rate)
    return float((torch.log(m(est) + 1e-5) - torch.log(m(ref) + 1e-5)).abs().mean())


def mrstft_distance(est: torch.Tensor, ref: torch.Tensor) -> float:
    return float(multires_stft()(est.reshape(1, -1, est.shape[-1]), ref.reshape(1, -1, ref.shape[-1])))


def pesq_wb(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    """Wide-band PESQ of mono speech; returns NaN when PESQ finds no utterance."""
    return speech_scores.pesq_wb_np(_mono_np(ref), _mono_np(est), sample_rate)


def stoi(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    return speech_scores.stoi_np(_mono_np(ref), _mono_np(est), sample_rate)


def _mono_np(x: torch.Tensor) -> np.ndarray:
    x = x.detach().cpu().float()
    if x.dim() == 2:
        x = x.mean(dim=0)
    return x.numpy().astype(np.float64)


def score_clips(refs: list[torch.Tensor], ests: list[torch.Tensor], sample_rate: int = 16000,
                speech: bool = True, pesq: bool = True) -> list[dict[str, float]]:
    """Every metric for each pair of clips (each (channels, samples)), one dict per pair.

    For a breakdown (by voice, by condition) without scoring the clips twice; ``score`` is their mean.
    PESQ and STOI, the slow ones, are scored in worker processes (``speech_scores``).
    """
    rows, pairs = [], []
    for ref, est in zip(refs, ests):
        n = min(ref.shape[-1], est.shape[-1])
        ref, est = ref[..., :n], est[..., :n]
        rows.append({"si_sdr": si_sdr(est, ref), "mel_dist": mel_distance(est, ref, sample_rate)})
        if speech:
            pairs.append((_mono_np(ref), _mono_np(est)))
    if speech:
        for row, (p, s) in zip(rows, speech_scores.speech_scores(pairs, sample_rate, pesq=pesq)):
            if pesq:
                row["pesq_wb"] = p
            row["stoi"] = s
    return rows


def score(refs: list[torch.Tensor], ests: list[torch.Tensor], sample_rate: int = 16000,
          speech: bool = True, pesq: bool = True) -> dict[str, float]:
    """Mean of each metric over paired clips (each (channels, samples)).

    PESQ and STOI are speech metrics: pass ``speech=False`` for music and effects.  ``pesq=False``
    skips PESQ (the slowest metric) for sweeps that train many models.
    """
    rows = score_clips(refs, ests, sample_rate, speech, pesq)
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def log_mel_frames(clips: list[torch.Tensor], sample_rate: int = 16000) -> np.ndarray:
    """Every log-mel frame of ``clips`` (each (channels, samples); channels are averaged), stacked:
    (frames, 80), the same spectrogram ``mel_distance`` compares."""
    m = _mel(sample_rate)
    frames = [torch.log(m(x.detach().cpu().float().reshape(-1, x.shape[-1]).mean(0)) + 1e-5).T for x in clips]
    return torch.cat(frames).double().numpy()


def frechet_mel_distance(refs: list[torch.Tensor], ests: list[torch.Tensor], sample_rate: int = 16000) -> float:
    """Fréchet distance between the log-mel frames of two *sets* of clips (not pairs).

    ``mel_distance`` compares each estimate with its own reference, frame by frame, so a generator
    that draws a *different plausible* rendition (another pitch movement, other timing) is charged
    as much as one that makes noise.  This score fits a Gaussian to all frames of each set and
    compares the two (the formula of FID / FAD, here on log-mel frames rather than a pretrained
    network's embeddings, which this course cannot download): it is low when the estimates' frames
    look like real frames, whatever clip they belong to.  It ignores time order and needs many
    frames per set (thousands: the 16 clips of a decode-path row give about 2000).  Lower is better.
    Written here because FAD's libraries fetch an embedding network; the formula is the standard one.
    """
    if not refs or not ests:
        raise ValueError(f"frechet_mel_distance compares two sets of clips, got {len(refs)} and {len(ests)} clips")
    a, b = log_mel_frames(refs, sample_rate), log_mel_frames(ests, sample_rate)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(Σa Σb) from the eigenvalues of the symmetric sqrt(Σa) Σb sqrt(Σa): no complex sqrtm
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


def swap_magnitude_phase(est: torch.Tensor, ref: torch.Tensor, n_fft: int = 512,
                         hop: int = 160) -> dict[str, torch.Tensor]:
    """Where a reconstruction's error lives: two hybrids of ``est`` and ``ref`` (each (channels, samples)).

    ``"est magnitude, true phase"`` keeps est's STFT magnitude and puts ref's phase under it;
    ``"true magnitude, est phase"`` does the opposite.  Scored like ``est`` itself (``score``), they
    split its error: if the first scores far better than ``est``, the phase costs the most; if the
    second does, the magnitude.  A frame-rate decoder *invents* its phase (its SI-SDR is very
    negative), so this is the question to ask before blaming the latent.  Not in a library: a
    diagnostic of this course.  Both hybrids are ``ref``'s length.
    """
    if est.dim() != 2 or ref.dim() != 2 or est.shape[0] != ref.shape[0]:
        raise ValueError(f"est and ref must be (channels, samples) with the same channels, "
                         f"got {tuple(est.shape)} and {tuple(ref.shape)}")
    n = ref.shape[-1]
    est = est[..., :n] if est.shape[-1] >= n else torch.nn.functional.pad(est, (0, n - est.shape[-1]))
    window = torch.hann_window(n_fft, device=ref.device)

    def stft(a):
        return torch.stft(a, n_fft, hop, window=window, return_complex=True)

    def istft(spec):
        return torch.istft(spec, n_fft, hop, window=window, length=n)

    e, r = stft(est.float()), stft(ref.float())
    return {"est magnitude, true phase": istft(torch.polar(e.abs(), r.angle())),
            "true magnitude, est phase": istft(torch.polar(r.abs(), e.angle()))}


# --- speech failure split: prosody, timbre and alignment (notebook 01) --------------------------

F0_GRID_HZ = 440.0 * 2 ** ((np.arange(36.0, 68.0, 0.25) - 69.0) / 12.0)  # 65-415 Hz, quarter semitones
_HARMONIC_WEIGHTS = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3)


def f0_track(x: torch.Tensor, sample_rate: int = 16000, hop: int = 160, n_fft: int = 2048) -> np.ndarray:
    """F0 (Hz) of every hop by harmonic summation on the log-magnitude spectrum.

    Written by hand because the maintained trackers (Praat, pYIN, CREPE) look for periodicity in
    the *waveform*: a small decoder that gets the harmonics right but the phase wrong reads as
    unvoiced to them.  This one only needs the harmonics, so it scores pitch, not phase.
    Every frame gets a value; pick the voiced frames from the reference labels.
    """
    y = _mono_np(x)
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(torch.from_numpy(y), n_fft, hop, window=window, center=True, return_complex=True)
    logmag = torch.log(spec.abs() + 1e-4).numpy()
    score = np.zeros((len(F0_GRID_HZ), logmag.shape[1]))
    for h, w in enumerate(_HARMONIC_WEIGHTS, start=1):
        bins = np.clip(np.round(h * F0_GRID_HZ * n_fft / sample_rate).astype(int), 0, logmag.shape[0] - 1)
        score += w * logmag[bins]
    return F0_GRID_HZ[score.argmax(axis=0)]


def f0_error_cents(est: torch.Tensor, ref: torch.Tensor, voiced: np.ndarray | None = None,
                   sample_rate: int = 16000) -> float:
    """Prosody drift: mean |F0(est) - F0(ref)| in cents over voiced frames (100 cents = a semitone).

    ``voiced`` (bool per 10 ms frame, e.g. from the corpus F0 labels) picks the frames; without it,
    every frame counts.  Both signals go through the same tracker, so tracker bias cancels.
    """
    a, b = f0_track(est, sample_rate), f0_track(ref, sample_rate)
    n = min(len(a), len(b))
    mask = np.ones(n, dtype=bool) if voiced is None else np.asarray(voiced[:n], dtype=bool)
    n = min(n, len(mask))
    mask = mask[:n]
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs(1200 * np.log2(a[:n][mask] / b[:n][mask]))))


_MFCC = {}


def _mfcc(x: torch.Tensor, sample_rate: int) -> torch.Tensor:
    if sample_rate not in _MFCC:
        _MFCC[sample_rate] = torchaudio.transforms.MFCC(
            sample_rate, n_mfcc=20, melkwargs={"n_fft": 512, "hop_length": 160, "n_mels": 40})
    x = x.float().mean(dim=0) if x.dim() == 2 else x.float()
    return _MFCC[sample_rate](x)  # (20, frames)


def timbre_distance(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000) -> float:
    """Speaker/timbre loss: distance between the average spectral envelopes (mean MFCC 1-19 over
    the non-silent frames of the reference), in dB-like cepstral units.  0 = same envelope."""
    a, b = _mfcc(est, sample_rate), _mfcc(ref, sample_rate)
    n = min(a.shape[1], b.shape[1])
    a, b = a[:, :n], b[:, :n]
    keep = b[0] > b[0].max() - 12.0  # the reference's non-silent frames
    return float((a[1:, keep].mean(dim=1) - b[1:, keep].mean(dim=1)).pow(2).mean().sqrt())


def alignment_drift_ms(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000,
                       hop: int = 160) -> float:
    """Alignment drift: mean distance (ms) of the DTW path between est and ref from the diagonal.

    Computed on MFCCs (librosa DTW); 0 when every sound happens exactly when it should.  A generator
    that gets the sounds right but the timing wrong shows up here, not in a frame-by-frame distance.
    """
    import librosa

    a, b = _mfcc(est, sample_rate)[1:].numpy(), _mfcc(ref, sample_rate)[1:].numpy()  # c0 is loudness, not timing
    _, path = librosa.sequence.dtw(X=a, Y=b, metric="euclidean")
    return float(np.mean(np.abs(path[:, 0] - path[:, 1])) * hop / sample_rate * 1000.0)


# --- stereo image and pitch content (notebook 02) -----------------------------------------------

def _stereo(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() != 2 or x.shape[0] != 2:
        raise ValueError(f"{name} needs stereo audio (2, samples), got shape {tuple(x.shape)}")
    return x.detach().cpu().float()


def _ild_bins(est: torch.Tensor, ref: torch.Tensor, name: str, n_fft: int, hop: int, floor_db: float,
              range_db: float) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Per-bin ILD (dB) of ``est`` and ``ref`` over the reference's active bins; None when the
    reference is silent (it has no image to keep).  See ``ild_error_db`` for the definitions."""
    est, ref = _stereo(est, name), _stereo(ref, name)
    n = min(est.shape[-1], ref.shape[-1])
    window = torch.hann_window(n_fft)
    mag_est = torch.stft(est[:, :n], n_fft, hop, window=window, return_complex=True).abs()
    mag_ref = torch.stft(ref[:, :n], n_fft, hop, window=window, return_complex=True).abs()

    def ild(m):
        m = m.clamp_min(m.max() * 10 ** (floor_db / 20) + 1e-12)  # + 1e-12: silence stays finite
        return 20 * torch.log10(m[0] / m[1])

    power = mag_ref.square().sum(0)
    if power.max() <= 0:
        return None
    active = power >= power.max() * 10 ** (-range_db / 10)
    return ild(mag_est)[active], ild(mag_ref)[active]


def ild_error_db(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000, n_fft: int = 1024,
                 hop: int = 256, floor_db: float = -60.0, range_db: float = 40.0) -> float:
    """Stereo image error: mean |ILD(est) - ILD(ref)| in dB over the reference's active bins.

    ILD per time-frequency bin = 20 log10(|L| / |R|), each signal's magnitudes floored at
    ``floor_db`` under its own loudest bin, so a near-empty channel gives a large, finite ILD (at
    most -floor_db) and a common gain, which leaves every ratio alone, scores exactly 0.
    Active bins: those whose reference power |L|^2 + |R|^2 is within ``range_db`` of the loudest
    reference bin; quieter bins' ILD is noise, and masked by the loud ones to the ear.  A 2x gain on
    one channel gives ~6.0 dB everywhere; swapping L and R gives twice the reference's mean |ILD|.
    ``sample_rate`` does not change the number (bins are not weighted by frequency); it is there for
    the same call shape as the other metrics.
    """
    bins = _ild_bins(est, ref, "ild_error_db", n_fft, hop, floor_db, range_db)
    if bins is None:
        return float("nan")  # a silent reference has no image to keep
    ild_est, ild_ref = bins
    return float((ild_est - ild_ref).abs().mean())


def ild_correlation(est: torch.Tensor, ref: torch.Tensor, n_fft: int = 1024, hop: int = 256,
                    floor_db: float = -60.0, range_db: float = 40.0) -> float:
    """Is there an image at all?  Pearson correlation between the per-bin ILDs of ``est`` and
    ``ref`` over the reference's active bins (the bins of ``ild_error_db``).

    1 = every bin leans the way the reference leans (a level offset between channels does not
    lower it; ``ild_error_db`` sees that); 0 = no relation, which is also the score of a mono copy
    (its ILD is 0 everywhere: no image to correlate); -1 = left and right swapped.  An error in dB
    mixes "no image" with "an image in the wrong place"; this number tells them apart.
    """
    bins = _ild_bins(est, ref, "ild_correlation", n_fft, hop, floor_db, range_db)
    if bins is None:
        return float("nan")
    ild_est, ild_ref = (b.double() for b in bins)
    if ild_est.numel() < 2 or float(ild_ref.std()) < 1e-9:
        return float("nan")  # a reference with one ILD everywhere has no image to follow
    if float(ild_est.std()) < 1e-9:
        return 0.0  # a flat estimate (e.g. mono) carries no image
    return float(torch.corrcoef(torch.stack([ild_est, ild_ref]))[0, 1])


def chroma_error(est: torch.Tensor, ref: torch.Tensor, sample_rate: int = 16000, n_fft: int = 4096,
                 hop: int = 512, range_db: float = 40.0) -> float:
    """Pitch-content error: mean L1 between frame-normalised chromagrams (0 = same pitch classes,
    2 = disjoint), over the frames whose reference RMS is within ``range_db`` of its loudest frame.

    librosa ``chroma_stft``, not ``chroma_cqt``: one STFT and a fixed filterbank, ~15x faster here
    (11 vs 77 ms per second of audio), and a 4096-point STFT at 16 kHz (3.9 Hz bins) already separates
    semitones down to ~65 Hz.  Channels are averaged first: pitch content, not image.  Each frame is
    L1-normalised (a distribution over the 12 pitch classes), so loudness errors do not count.
    """
    import librosa

    a, b = _mono_np(est), _mono_np(ref)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    # tuning=0: both on the A440 grid; librosa would otherwise estimate each signal's tuning and
    # forgive a detuned estimate.
    kw = {"sr": sample_rate, "n_fft": n_fft, "hop_length": hop, "norm": 1, "tuning": 0.0}
    ca, cb = librosa.feature.chroma_stft(y=a, **kw), librosa.feature.chroma_stft(y=b, **kw)
    rms = librosa.feature.rms(y=b, frame_length=n_fft, hop_length=hop)[0]
    if rms.max() <= 0:
        return float("nan")
    active = rms >= rms.max() * 10 ** (-range_db / 20)
    return float(np.abs(ca - cb)[:, active].sum(axis=0).mean())


def stereo_width(x: torch.Tensor) -> float:
    """Side-to-mid energy ratio in dB, 10 log10(sum S^2 / sum M^2), M = (L + R) / 2, S = (L - R) / 2.

    below -100 dB for mono (the 1e-12 floor), 0 dB for independent channels of equal level, large and
    positive for anti-phase channels.  One number per clip for a width plot.
    """
    x = _stereo(x, "stereo_width").double()
    mid, side = (x[0] + x[1]) / 2, (x[0] - x[1]) / 2
    return float(10 * torch.log10((side.square().sum() + 1e-12) / (mid.square().sum() + 1e-12)))
