"""Audio players for notebooks and for the static HTML course.

Players are plain HTML ``<audio>`` elements with the WAV embedded (base64), so they keep working
in an exported HTML page with no kernel and no server.  ``players`` shows several clips in one
labelled table, the course's standard A/B listening layout.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np
import soundfile as sf
import torch

from course_lib.audio import SAMPLE_RATE


def wav_bytes(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, peak: float | None = 0.95) -> bytes:
    """A (channels, samples) or (samples,) tensor as 16-bit WAV bytes.

    ``peak`` normalises loudness so A/B comparisons are not won by volume; None keeps the level.
    """
    a = x.detach().cpu().float()
    a = a[None] if a.dim() == 1 else a
    if peak is not None and a.abs().max() > 0:
        a = a * (peak / a.abs().max())
    buf = io.BytesIO()
    sf.write(buf, np.clip(a.numpy().T, -1, 1), sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def audio_html(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, peak: float | None = 0.95) -> str:
    data = base64.b64encode(wav_bytes(x, sample_rate, peak)).decode()
    return f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio>'


def players_html(clips: dict[str, torch.Tensor], sample_rate: int = SAMPLE_RATE, title: str = "",
                 notes: dict[str, str] | None = None) -> str:
    """An HTML table: one row per named clip with its player (and an optional note)."""
    rows = "".join(
        f"<tr><td style='padding-right:1em'><b>{html.escape(name)}</b></td><td>{audio_html(x, sample_rate)}</td>"
        f"<td style='padding-left:1em'>{html.escape((notes or {}).get(name, ''))}</td></tr>"
        for name, x in clips.items()
    )
    head = f"<p><b>{html.escape(title)}</b></p>" if title else ""
    return f"{head}<table>{rows}</table>"


def players(clips: dict[str, torch.Tensor], sample_rate: int = SAMPLE_RATE, title: str = "",
            notes: dict[str, str] | None = None):
    """Display ``players_html`` in a notebook (returns the IPython HTML object)."""
    from IPython.display import HTML, display

    obj = HTML(players_html(clips, sample_rate, title, notes))
    display(obj)
    return obj
