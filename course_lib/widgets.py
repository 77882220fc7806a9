"""Audio players for notebooks and for the static HTML course.

Players are plain HTML ``<audio>`` elements with the WAV embedded (base64), so they keep working
in an exported HTML page with no kernel and no server.  ``players`` shows several clips in one
labelled table, the course's standard A/B listening layout.

Two interactive players build on the same HTML: ``latent_noise_slider`` (add seeded Gaussian noise,
in per-channel std units, to one decode path's latent -- all channels or one -- and listen to the
decoder's tolerance), ``channel_mixer`` (mute or solo latent channels: hear what they carry),
``ab_player`` (flip between decode-path rows of one clip) and ``sweep_dial`` (walk along a sweep,
e.g. the rate–distortion curve, and hear one clip at each point by decode path).  All are ipywidgets
that render headless, so tests drive them by setting control values.
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
            notes: dict[str, str] | None = None) -> None:
    """Display ``players_html`` in a notebook.  Returns nothing, so a call on a cell's last line is
    shown once (a returned object would be displayed a second time)."""
    from IPython.display import HTML, display

    display(HTML(players_html(clips, sample_rate, title, notes)))


# --- interactive players ------------------------------------------------------------------------
# The two widgets below are ipywidgets whose *display* is plain HTML (an embedded-WAV <audio> and a
# PNG spectrogram inside an ``ipywidgets.HTML``), so the last rendered state still plays in an
# exported page, and a test can read it back from ``.html`` without a browser or a kernel.


def latent_std(z: torch.Tensor) -> torch.Tensor:
    """Per-channel std of a latent (width, slots) over its slots, (width,): the default unit of the
    noise slider.  Population std (``correction=0``) so a one-slot latent gives 0, not NaN."""
    return z.float().std(dim=-1, correction=0)


def add_latent_noise(z: torch.Tensor, scale: float, channel: int | str = "all", std: torch.Tensor | None = None,
                     seed: int = 0) -> torch.Tensor:
    """z (width, slots) plus Gaussian noise of ``scale`` per-channel stds, on every channel or one.

    ``std`` (width,) is the unit: by default ``latent_std(z)``; pass e.g. ``decode_paths.residual_std``
    to measure the slider in "predictor errors" instead.  The noise is the same convention as the
    D(E(x)+ε) row (``std[:, None] * randn(z.shape)``, seeded).
    """
    if scale == 0:
        return z  # exactly the clean latent: no 0 * noise rounding, no -0.0 surprises
    width = z.shape[0]
    std = latent_std(z) if std is None else std
    std = std.to(device=z.device, dtype=z.dtype).reshape(-1, 1)
    if std.shape[0] != width:
        raise ValueError(f"std has {std.shape[0]} channels for a latent of width {width}")
    # The full noise tensor is drawn even when one channel is selected, so channel c gets the *same*
    # noise soloed as inside "all": soloing isolates that channel's share of the "all" sound.
    eps = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed)).to(device=z.device, dtype=z.dtype)
    if channel != "all":
        if not 0 <= int(channel) < width:
            raise ValueError(f"channel {channel!r} is not 'all' or in 0..{width - 1}")
        mask = torch.zeros(width, 1, device=z.device, dtype=z.dtype)
        mask[int(channel)] = 1
        eps = eps * mask
    return z + scale * std * eps


@torch.no_grad()
def render_latent_noise(decode, z: torch.Tensor, scale: float, channel: int | str = "all",
                        std: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """Audio (channels, samples) of ``decode(add_latent_noise(z, ...))``: what the noise slider plays.

    ``decode`` maps one latent (width, slots) to audio, e.g. ``autoencoder_decoder(model, length)``.
    scale 0 returns ``decode(z)`` exactly; a fixed ``seed`` makes moving the slider back give back the
    same sound, so what changes between two settings is the amount of noise, not the draw.
    """
    return decode(add_latent_noise(z, scale, channel, std, seed))


def autoencoder_decoder(model, length: int | None = None, spans: torch.Tensor | None = None):
    """A ``decode`` callable for the widgets: z (width, slots) -> audio (channels, length) through
    ``model.decode`` in eval mode.  ``spans`` (per STFT frame) are needed by the phone topology."""
    def decode(z: torch.Tensor) -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            return model.decode(z[None], length, spans=None if spans is None else spans[None])[0]
    return decode


def spectrogram_png_html(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, title: str = "",
                         figsize: tuple[float, float] = (5.0, 2.2)) -> str:
    """A small spectrogram of ``x`` as an embedded-PNG ``<img>``.

    Drawn on a bare ``Figure`` (not pyplot), so nothing is registered with pyplot and no figure
    leaks however often a slider re-renders."""
    from matplotlib.figure import Figure

    from course_lib import plots

    n = x.shape[-1]
    # Short clips (tests, single latent frames) cannot take a 512-point STFT: shrink it to fit.
    n_fft = min(512, 2 ** int(np.log2(max(n, 32) // 2)))
    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    plots.spectrogram(x.detach().cpu(), sample_rate, ax=ax, title=title, n_fft=n_fft, hop=max(1, n_fft // 4))
    return _figure_img(fig, title or "spectrogram")


def _figure_img(fig, alt: str) -> str:
    """A bare ``Figure`` as an embedded-PNG ``<img alt=...>`` (tight layout, 80 dpi): what the
    widgets' views are drawn into."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'


def clip_html(x: torch.Tensor, sample_rate: int = SAMPLE_RATE, title: str = "") -> str:
    """One clip as its player above its spectrogram: the view both widgets show."""
    head = f"<div><b>{html.escape(title)}</b></div>" if title else ""
    return f"{head}<div>{audio_html(x, sample_rate)}</div><div>{spectrogram_png_html(x, sample_rate, title)}</div>"


class _Shown:
    """Shared display plumbing: ``.widget`` (the ipywidgets container) shows itself in a notebook
    when the object is the cell's last expression, and ``.children`` is the container's."""

    widget = None

    @property
    def children(self):
        return self.widget.children

    def _repr_mimebundle_(self, **kwargs):
        # The live widget, plus a static HTML snapshot of what it shows: a notebook exported to HTML
        # (make course) keeps no widget state, so the snapshot is what plays there, offline.
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/html"] = self.snapshot_html()
        return bundle

    def snapshot_html(self) -> str:
        """What the widget shows now, as plain HTML (players and spectrograms, no controls)."""
        return self.html


class _LatentPlayer(_Shown):
    """What the slider and the mixer share: one clip's latent per decode path, a ``.path`` selector,
    the widget's own controls beside it, and ``update`` = ``render`` then show under ``label``."""

    def __init__(self, decode, paths: dict[str, torch.Tensor], sample_rate: int):
        if not paths:
            raise ValueError("paths is empty: give at least one name -> latent (width, slots)")
        self.decode, self.paths, self.sample_rate = decode, dict(paths), sample_rate
        self.last_audio: torch.Tensor | None = None

    @property
    def first(self) -> torch.Tensor:
        """The first path's latent (normally the oracle's): the widgets' unit and fill come from it."""
        return next(iter(self.paths.values()))

    def _show(self, title: str, controls: list) -> None:
        """Lay out title, path selector, ``controls`` and the view; any change calls ``update``."""
        import ipywidgets as w

        self.path = w.ToggleButtons(options=list(self.paths), description="path")
        self.view = w.HTML()
        head = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox(head + [self.path, w.HBox(controls), self.view])
        for control in (*controls, self.path):
            control.observe(self.update, names="value")
        self.update()

    def render(self) -> torch.Tensor:  # pragma: no cover - each widget defines its own
        raise NotImplementedError

    def label(self) -> str:  # pragma: no cover
        raise NotImplementedError

    def update(self, change=None) -> torch.Tensor:
        """Render and show; returns the audio.  Called by the controls, callable by hand."""
        self.last_audio = self.render()
        self.view.value = clip_html(self.last_audio, self.sample_rate, self.label())
        return self.last_audio

    @property
    def html(self) -> str:
        return self.view.value


class LatentNoiseSlider(_LatentPlayer):
    """Listen to how much latent noise the decoder tolerates, path by path and channel by channel.

    Controls: ``.scale`` (FloatSlider, noise in std units), ``.channel`` (Dropdown: "all" or one
    channel index), ``.path`` (ToggleButtons over the decode paths' latents).  Any change calls
    ``update``, which renders with ``render_latent_noise`` and shows player + spectrogram in
    ``.view`` (an ``ipywidgets.HTML``).  ``.last_audio`` and ``.html`` hold what is shown.
    """

    def __init__(self, decode, paths: dict[str, torch.Tensor], std: torch.Tensor | None = None,
                 sample_rate: int = SAMPLE_RATE, title: str = "", max_scale: float = 2.0, seed: int = 0):
        import ipywidgets as w

        super().__init__(decode, paths, sample_rate)
        self.seed = seed
        # One unit for every path (the first path's, normally the oracle D(E(x))): with a per-path
        # default, "1 std" would mean a different amount of noise on each path and A/B would lie.
        self.std = latent_std(self.first) if std is None else std
        self.scale = w.FloatSlider(value=0.0, min=0.0, max=max_scale, step=0.05, continuous_update=False,
                                   description="noise (σ)", readout_format=".2f")
        self.channel = w.Dropdown(options=[("all", "all")] + [(str(i), i) for i in range(self.first.shape[0])],
                                  value="all", description="channel")
        self._show(title, [self.scale, self.channel])

    def render(self) -> torch.Tensor:
        """The audio for the current control values (does not touch the display)."""
        return render_latent_noise(self.decode, self.paths[self.path.value], self.scale.value,
                                   self.channel.value, self.std, self.seed)

    def label(self) -> str:
        where = "all channels" if self.channel.value == "all" else f"channel {self.channel.value}"
        return f"{self.path.value} + {self.scale.value:.2f}σ noise on {where}"


def latent_noise_slider(decode, paths: dict[str, torch.Tensor], std: torch.Tensor | None = None,
                        sample_rate: int = SAMPLE_RATE, title: str = "", max_scale: float = 2.0,
                        seed: int = 0) -> LatentNoiseSlider:
    """Build a ``LatentNoiseSlider`` (displays itself as the cell's last expression; its ipywidgets
    container is ``.widget``).  ``paths``: decode-path name -> latent (width, slots) of one clip."""
    return LatentNoiseSlider(decode, paths, std, sample_rate, title, max_scale, seed)


MIX_MODES = ("mute", "solo")


def mix_channels(z: torch.Tensor, channels, mode: str = "mute", fill: torch.Tensor | None = None) -> torch.Tensor:
    """z (width, slots) with channels held at ``fill`` (one value per channel): the listed ones
    (``mode="mute"``: what is left without them) or every other one (``"solo"``: what they carry
    alone).  ``fill`` defaults to each channel's mean over the slots of ``z``; pass the training
    latents' mean (``predictors.LatentStats.mean``) to hold a channel at the value that says nothing
    about any clip.  Solo with no channel holds every channel: the decoder's "nothing" sound."""
    from course_lib.dashboard import replace_channels

    if mode not in MIX_MODES:
        raise ValueError(f"mode {mode!r}: use one of {MIX_MODES}")
    fill = z.float().mean(dim=-1) if fill is None else fill
    chosen = {int(c) for c in channels}
    held = chosen if mode == "mute" else set(range(z.shape[0])) - chosen
    return replace_channels(z, sorted(held), fill)


@torch.no_grad()
def render_channel_mix(decode, z: torch.Tensor, channels, mode: str = "mute",
                       fill: torch.Tensor | None = None) -> torch.Tensor:
    """Audio (channels, samples) of ``decode(mix_channels(z, ...))``: what the channel mixer plays.
    Mute with no channel is ``decode(z)`` exactly."""
    return decode(mix_channels(z, channels, mode, fill))


class ChannelMixer(_LatentPlayer):
    """Mute or solo latent channels and hear what the decoder makes of the rest.

    Controls: ``.channels`` (SelectMultiple of channel indices, listed in ``order``; shift/ctrl-click
    for several), ``.mode`` (ToggleButtons "mute" / "solo"), ``.path`` (ToggleButtons over the decode
    paths' latents).  A held channel sits at ``fill``.  Any change renders with ``render_channel_mix`` into
    ``.view``; ``.last_audio`` and ``.html`` hold what is shown.
    """

    def __init__(self, decode, paths: dict[str, torch.Tensor], fill: torch.Tensor | None = None,
                 channels=(), mode: str = "mute", sample_rate: int = SAMPLE_RATE, title: str = "",
                 labels: dict[int, str] | None = None, order=None):
        import ipywidgets as w

        super().__init__(decode, paths, sample_rate)
        if mode not in MIX_MODES:
            raise ValueError(f"mode {mode!r}: use one of {MIX_MODES}")
        width = self.first.shape[0]
        # One fill for every path (the first path's mean, normally the oracle's), as the slider keeps
        # one noise unit: a muted channel then sits at the same value whichever path is playing.
        self.fill = self.first.float().mean(dim=-1) if fill is None else fill
        labels = labels or {}
        order = list(range(width)) if order is None else [int(c) for c in order]
        if sorted(order) != list(range(width)):
            raise ValueError(f"order must list every channel 0..{width - 1} once")
        options = [(labels.get(c, str(c)), c) for c in order]
        bad = [c for c in channels if not 0 <= int(c) < width]
        if bad:
            raise ValueError(f"channels {bad} are outside 0..{width - 1}")
        self.channels = w.SelectMultiple(options=options, value=tuple(int(c) for c in channels), rows=8,
                                         description="channels")
        self.mode = w.ToggleButtons(options=list(MIX_MODES), value=mode, description="mode")
        self._show(title, [self.channels, self.mode])

    def render(self) -> torch.Tensor:
        """The audio for the current control values (does not touch the display)."""
        return render_channel_mix(self.decode, self.paths[self.path.value], self.channels.value,
                                  self.mode.value, self.fill)

    def label(self) -> str:
        chosen = ", ".join(str(c) for c in self.channels.value) or "none"
        what = (f"channels {chosen} muted" if self.mode.value == "mute"
                else f"only channels {chosen} (the rest held)")
        return f"{self.path.value} · {what}"


def channel_mixer(decode, paths: dict[str, torch.Tensor], fill: torch.Tensor | None = None, channels=(),
                  mode: str = "mute", sample_rate: int = SAMPLE_RATE, title: str = "",
                  labels: dict[int, str] | None = None, order=None) -> ChannelMixer:
    """Build a ``ChannelMixer`` (displays itself as the cell's last expression).  ``paths``: decode-path
    name -> latent (width, slots) of one clip; ``channels``: those selected at the start; ``labels``:
    optional text per channel index for the list (e.g. its mute cost); ``order``: the list's order
    (e.g. widest channel first; default by index)."""
    return ChannelMixer(decode, paths, fill, channels, mode, sample_rate, title, labels, order)


class ABPlayer(_Shown):
    """A/B listening over decode-path rows: ToggleButtons (``.choice``) pick one clip, whose player
    and spectrogram are shown in ``.view``.  ``.current`` is the shown name, ``.audio_bytes`` its
    WAV.  With ``show_all`` a ``players_html`` table of every row sits below, to play two at once."""

    def __init__(self, clips: dict[str, torch.Tensor], sample_rate: int = SAMPLE_RATE, title: str = "",
                 show_all: bool = False):
        import ipywidgets as w

        if not clips:
            raise ValueError("clips is empty: give at least one name -> audio")
        self.clips, self.sample_rate, self.title = dict(clips), sample_rate, title
        self._cache: dict[str, str] = {}  # rendered HTML per row: flipping A/B back and forth is instant
        self.choice = w.ToggleButtons(options=list(self.clips), description="row")
        self.view = w.HTML()
        head = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        rest = [w.HTML(players_html(self.clips, sample_rate))] if show_all else []
        self.widget = w.VBox(head + [self.choice, self.view] + rest)
        self.choice.observe(self.update, names="value")
        self.update()

    @property
    def current(self) -> str:
        return self.choice.value

    @property
    def audio_bytes(self) -> bytes:
        return wav_bytes(self.clips[self.current], self.sample_rate)

    @property
    def html(self) -> str:
        return self.view.value

    def snapshot_html(self) -> str:
        """Every row's player (a static page cannot switch rows)."""
        return players_html(self.clips, self.sample_rate, self.title)

    def update(self, change=None) -> str:
        """Show the chosen row; returns its name."""
        name = self.current
        if name not in self._cache:
            self._cache[name] = clip_html(self.clips[name], self.sample_rate, name)
        self.view.value = self._cache[name]
        return name


def ab_player(clips: dict[str, torch.Tensor], sample_rate: int = SAMPLE_RATE, title: str = "",
              show_all: bool = False) -> ABPlayer:
    """Build an ``ABPlayer`` over named clips (e.g. one clip through every decode path)."""
    return ABPlayer(clips, sample_rate, title, show_all)


def sweep_curve_png_html(scores, point=None, path=None, ylabel: str = "", title: str = "",
                         figsize: tuple[float, float] = (5.0, 2.4)) -> str:
    """The sweep's curves as an embedded-PNG ``<img>``: one line per column of ``scores`` (a
    DataFrame: a row per sweep point, in sweep order; a column per decode path), the ``point`` of
    the ``path`` column ringed.  Drawn on a bare ``Figure``, as ``spectrogram_png_html``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    x = np.arange(len(scores))
    for column in scores.columns:
        ax.plot(x, scores[column].to_numpy(dtype=float), "o-", label=str(column))
    if point is not None and path is not None:
        i = list(scores.index).index(point)
        ax.plot([i], [float(scores[path].iloc[i])], "o", ms=14, mfc="none", mec="black", mew=2, label="playing")
    ax.set_xticks(x, [str(v) for v in scores.index], fontsize=8)
    ax.set(ylabel=ylabel, title=title)
    ax.legend(fontsize=7)
    return _figure_img(fig, title or "sweep")


class SweepDial(_Shown):
    """Walk along a sweep and listen: one clip decoded at every point of it, by decode path.

    ``clips``: sweep point -> {path name -> audio (channels, samples)}, points in sweep order (e.g. the
    rate points of notebook 04, lowest rate first) and the same paths at every point.  ``scores``:
    an optional DataFrame indexed by the same points with one column per path (e.g. each path's mel
    distance), drawn beside the player with the point playing ringed.  Controls: ``.point`` (a
    SelectionSlider over the points, ``continuous_update=False``) and ``.path`` (ToggleButtons).  Any
    change calls ``update``, which shows the clip's player and spectrogram (and the curve) in
    ``.view``; ``.last_audio`` and ``.html`` hold what is shown.  Clips are decoded beforehand, so
    a move costs only the drawing, and each view is drawn once.
    """

    def __init__(self, clips: dict, scores=None, sample_rate: int = SAMPLE_RATE, title: str = "",
                 ylabel: str = ""):
        import ipywidgets as w

        if not clips:
            raise ValueError("clips is empty: give sweep point -> {path -> audio}")
        paths = list(next(iter(clips.values())))
        for point, by_path in clips.items():
            if list(by_path) != paths:
                raise ValueError(f"point {point!r} has paths {list(by_path)}; every point needs {paths}")
        if scores is not None:
            if list(scores.index) != list(clips):
                raise ValueError(f"scores are indexed by {list(scores.index)}; the clips' points are {list(clips)}")
            missing = [c for c in paths if c not in scores.columns]
            if missing:
                raise ValueError(f"scores lack a column for the paths {missing}")
            scores = scores[paths]
        self.clips, self.scores, self.sample_rate, self.title, self.ylabel = clips, scores, sample_rate, title, ylabel
        self.last_audio: torch.Tensor | None = None
        self._cache: dict[tuple, str] = {}
        self.point = w.SelectionSlider(options=list(clips), value=next(iter(clips)), description="point",
                                       continuous_update=False)
        self.path = w.ToggleButtons(options=paths, description="path")
        self.view = w.HTML()
        head = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = w.VBox(head + [self.point, self.path, self.view])
        for control in (self.point, self.path):
            control.observe(self.update, names="value")
        self.update()

    def render(self) -> torch.Tensor:
        """The audio for the current point and path (does not touch the display)."""
        return self.clips[self.point.value][self.path.value]

    def label(self) -> str:
        return f"{self.point.value} · {self.path.value}"

    def update(self, change=None) -> torch.Tensor:
        """Render and show; returns the audio.  Called by the controls, callable by hand."""
        key = (self.point.value, self.path.value)
        self.last_audio = self.render()
        if key not in self._cache:
            view = clip_html(self.last_audio, self.sample_rate, self.label())
            if self.scores is not None:
                curve = sweep_curve_png_html(self.scores, *key, ylabel=self.ylabel, title="along the sweep")
                row = "display:flex;gap:1em;align-items:flex-end"  # player and spectrogram beside the curve
                view = f'<div style="{row}"><div>{view}</div><div>{curve}</div></div>'
            self._cache[key] = view
        self.view.value = self._cache[key]
        return self.last_audio

    @property
    def html(self) -> str:
        return self.view.value

    def snapshot_html(self) -> str:
        """Every point's clips as a players table (a static page cannot move the dial)."""
        flat = {f"{point} · {path}": audio for point, by_path in self.clips.items() for path, audio in by_path.items()}
        curve = "" if self.scores is None else sweep_curve_png_html(self.scores, ylabel=self.ylabel)
        return players_html(flat, self.sample_rate, self.title) + curve


def sweep_dial(clips: dict, scores=None, sample_rate: int = SAMPLE_RATE, title: str = "",
               ylabel: str = "") -> SweepDial:
    """Build a ``SweepDial`` (displays itself as the cell's last expression).  ``clips``: sweep point
    -> {path -> audio} of one clip; ``scores``: optional DataFrame, a row per point and a column per
    path, drawn as the curve the dial walks along."""
    return SweepDial(clips, scores, sample_rate, title, ylabel)
