"""Level, bands, onsets, tempo and beat from a stream of mono blocks.

Each block goes into a sliding window of ``n_fft`` samples (a power of two, at least 40 ms and
at least one block), windowed with a Hann window. Band values are the mean-square power in
log-spaced bands between ``fmin`` and ``fmax``, in dBFS mapped from -60..0 onto 0..1 and smoothed
(fast attack, ``smoothing_s`` release). Onsets are spectral flux (mean half-wave rectified rise
of the log-compressed magnitude spectrum) above an adaptive threshold: the median of the last
second's flux plus a multiple of its mean absolute deviation, set by ``onset_sensitivity``.
Tempo is the peak of the autocorrelation of the flux envelope over ``tempo_window_s``, weighted
by a log-normal prior around the middle of the tempo range; the beat phase is a phase-locked
loop pulled towards each onset that falls near a predicted beat.

Times are in seconds of audio from the start of the stream (``t`` at the end of each block), so
the analysis of a file does not depend on how fast it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perform.audio.config import AudioConfig
from perform.pipeline.features import REGISTRY, STAGE, FeatureInfo

#: dBFS mapped onto 0 (level, peak and bands); 0 dBFS maps onto 1.
FLOOR_DB = -60.0
_SILENT_DB = -120.0
_FLUX_FLOOR = 0.02  # absolute minimum threshold: silence and dither never make onsets
_MIN_ONSET_GAP_S = 0.05
_TEMPO_EVERY_S = 0.25
_TEMPO_MIN_HISTORY_S = 2.0
_PRIOR_OCTAVES = 1.0


def audio_features(
    bands: int = 8, tempo_min: float = 60.0, tempo_max: float = 180.0
) -> dict[str, FeatureInfo]:
    """The audio feature registry for ``bands`` bands (names as sent, all stage scope)."""

    def s(description: str, unit: str, lo: float, hi: float, default: float = 0.0) -> FeatureInfo:
        return FeatureInfo(description, unit, lo, hi, STAGE, default)

    feats = {
        "audio.level": s(
            "RMS level of the last block, -60..0 dBFS mapped onto 0..1, smoothed", "unitless", 0, 1
        ),
        "audio.peak": s("Peak sample of the last block, -60..0 dBFS mapped onto 0..1", "unitless", 0, 1),
        "audio.rms_db": s("RMS level of the last block (-120 in silence)", "dBFS", FLOOR_DB, 0.0, _SILENT_DB),
    }
    for k in range(1, bands + 1):
        feats[f"audio.band{k}"] = s(
            f"Power in log-spaced band {k} of {bands} (1 lowest), -60..0 dBFS mapped onto 0..1, smoothed",
            "unitless",
            0,
            1,
        )
    feats.update(
        {
            "audio.onset": s("1 in the block an onset (attack) is detected, else 0", "boolean", 0, 1),
            "audio.flux": s("Onset strength: spectral flux of the log-magnitude spectrum", "unitless", 0, 1),
            "audio.tempo": s("Estimated tempo (0 until found)", "BPM", tempo_min, tempo_max),
            "audio.beat_phase": s("Position in the current beat: 0 on the beat, rising to 1", "beats", 0, 1),
            "audio.beat": s("1 in the block a beat falls, else 0", "boolean", 0, 1),
        }
    )
    return feats


#: The registry for the default configuration (8 bands, 60..180 BPM).
AUDIO_FEATURES: dict[str, FeatureInfo] = audio_features()
# Every band a show may configure (AudioConfig.bands: up to 32) is known to rules, MIDI and OSC;
# a show replaces the entries with its own bands and tempo range when it starts.
REGISTRY.register(audio_features(bands=32))


@dataclass(frozen=True, slots=True)
class AudioFeatures:
    """The analysis of one block. ``t`` is audio time at the block's end; ``t_capture`` is
    ``time.monotonic()`` when its last sample was captured (for latency), ``seq`` the block number."""

    t: float
    rms_db: float
    peak_db: float
    level: float
    peak: float
    bands: tuple[float, ...]
    onset: bool
    onset_strength: float
    tempo_bpm: float
    beat_phase: float
    beat: bool
    seq: int = 0
    t_capture: float = 0.0

    def features_dict(self) -> dict[str, float]:
        """The values under the names of :func:`audio_features`."""
        out = {"audio.level": self.level, "audio.peak": self.peak, "audio.rms_db": self.rms_db}
        for k, v in enumerate(self.bands, 1):
            out[f"audio.band{k}"] = v
        out["audio.onset"] = 1.0 if self.onset else 0.0
        out["audio.flux"] = self.onset_strength
        out["audio.tempo"] = self.tempo_bpm
        out["audio.beat_phase"] = self.beat_phase
        out["audio.beat"] = 1.0 if self.beat else 0.0
        return out


def _db(power: float) -> float:
    return 10.0 * math.log10(power) if power > 1e-12 else _SILENT_DB


def _unit(db: float) -> float:
    return min(max((db - FLOOR_DB) / -FLOOR_DB, 0.0), 1.0)


class Analyzer:
    """Feed it consecutive blocks of ``blocksize`` samples; each :meth:`update` returns the features."""

    def __init__(self, samplerate: int, blocksize: int, config: AudioConfig | None = None) -> None:
        cfg = config or AudioConfig()
        self.config = cfg
        self.samplerate = int(samplerate)
        self.blocksize = int(blocksize)
        self.frame_rate = samplerate / blocksize
        self.n_fft = 1 << max(8, math.ceil(math.log2(max(blocksize, samplerate * 0.04))))
        n = self.n_fft
        self._history = np.zeros(n, dtype=np.float32)
        self._window = np.hanning(n).astype(np.float32)
        self._power_scale = 2.0 / (n * float(np.sum(self._window.astype(np.float64) ** 2)))
        self._mag_scale = 2.0 / float(np.sum(self._window))
        freqs = np.fft.rfftfreq(n, 1.0 / samplerate)
        fmax = min(cfg.fmax, samplerate / 2.0)
        fmin = min(cfg.fmin, fmax / 2.0)
        edges = np.geomspace(fmin, fmax, cfg.bands + 1)
        lo = np.searchsorted(freqs, edges[:-1])
        hi = np.maximum(np.searchsorted(freqs, edges[1:]), lo + 1)
        self._band_lo = np.minimum(lo, len(freqs) - 1)
        self._band_hi = np.minimum(hi, len(freqs))
        self._flux_lo, self._flux_hi = int(self._band_lo[0]), int(self._band_hi[-1])
        self._prev_logmag = np.zeros(self._flux_hi - self._flux_lo, dtype=np.float32)
        self._bands = np.zeros(cfg.bands)
        self._level = 0.0
        dt = blocksize / samplerate
        tau = max(cfg.smoothing_s, 1e-6)
        self._release = 1.0 - math.exp(-dt / tau)
        self._attack = 1.0 - math.exp(-dt / (tau / 4.0))
        # onset threshold over the last second
        self._flux_hist = np.zeros(max(4, round(self.frame_rate)))
        self._k = 0.5 + 4.0 * (1.0 - cfg.onset_sensitivity)
        self._last_onset_t = -1e9
        # tempo from the flux envelope
        self._env = np.zeros(max(8, round(cfg.tempo_window_s * self.frame_rate)))
        self._lag_min = self.frame_rate * 60.0 / cfg.tempo_max
        self._lag_max = self.frame_rate * 60.0 / cfg.tempo_min
        lags = np.arange(len(self._env))
        with np.errstate(divide="ignore"):
            bpm = np.where(lags > 0, 60.0 * self.frame_rate / np.maximum(lags, 1), 0.0)
        centre = math.sqrt(cfg.tempo_min * cfg.tempo_max)
        prior = np.exp(-0.5 * (np.log2(np.maximum(bpm, 1e-9) / centre) / _PRIOR_OCTAVES) ** 2)
        valid = (lags >= math.floor(self._lag_min)) & (lags <= math.ceil(self._lag_max)) & (lags > 0)
        self._prior = np.where(valid, prior, 0.0)
        self._nfft_env = 1 << math.ceil(math.log2(2 * len(self._env)))
        self._tempo_every = max(1, round(_TEMPO_EVERY_S * self.frame_rate))
        self.tempo_bpm = 0.0
        self._anchor = 0.0  # audio time of a beat
        self._phase = 0.0
        self._synced_t = -1e9
        self.blocks = 0

    @property
    def t(self) -> float:
        """Audio time at the end of the last block."""
        return self.blocks * self.blocksize / self.samplerate

    def update(self, block: np.ndarray, t_capture: float = 0.0) -> AudioFeatures:
        """Analyse the next block: ``blocksize`` samples, mono (or frames x channels, mixed)."""
        x = np.asarray(block, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
        if x.shape != (self.blocksize,):
            raise ValueError(f"expected a block of ({self.blocksize},) samples, got {x.shape}")
        self.blocks += 1
        t = self.t
        h = self._history
        h[: -self.blocksize] = h[self.blocksize :]
        h[-self.blocksize :] = x

        mean_square = float(np.dot(x, x)) / self.blocksize
        peak_abs = float(np.max(np.abs(x)))
        rms_db = _db(mean_square)
        peak_db = _db(peak_abs * peak_abs)
        self._level = self._smooth(self._level, _unit(rms_db))

        spectrum = np.fft.rfft(h * self._window)
        power = spectrum.real**2 + spectrum.imag**2
        cum = np.concatenate(([0.0], np.cumsum(power)))
        band_power = (cum[self._band_hi] - cum[self._band_lo]) * self._power_scale
        for k, p in enumerate(band_power):
            self._bands[k] = self._smooth(self._bands[k], _unit(_db(float(p))))

        mag = np.sqrt(power[self._flux_lo : self._flux_hi]) * self._mag_scale
        logmag = np.log1p(1000.0 * mag).astype(np.float32)
        rise = logmag - self._prev_logmag
        self._prev_logmag = logmag
        flux = float(np.mean(np.maximum(rise, 0.0))) / math.log1p(1000.0)

        hist = self._flux_hist
        median = float(np.median(hist))
        threshold = median + self._k * float(np.mean(np.abs(hist - median))) + _FLUX_FLOOR
        hist[:-1] = hist[1:]
        hist[-1] = flux
        onset = flux > threshold and t - self._last_onset_t >= _MIN_ONSET_GAP_S
        if onset:
            self._last_onset_t = t

        env = self._env
        env[:-1] = env[1:]
        env[-1] = flux
        history_s = self.blocks / self.frame_rate
        if self.blocks % self._tempo_every == 0 and history_s >= _TEMPO_MIN_HISTORY_S:
            self._estimate_tempo()

        beat = self._track_beat(t, onset)
        return AudioFeatures(
            t=t,
            rms_db=rms_db,
            peak_db=peak_db,
            level=self._level,
            peak=_unit(peak_db),
            bands=tuple(float(b) for b in self._bands),
            onset=onset,
            onset_strength=min(flux, 1.0),
            tempo_bpm=self.tempo_bpm,
            beat_phase=self._phase,
            beat=beat,
            seq=self.blocks,
            t_capture=t_capture,
        )

    def _smooth(self, old: float, new: float) -> float:
        return old + (self._attack if new > old else self._release) * (new - old)

    def _estimate_tempo(self) -> None:
        n = min(len(self._env), self.blocks)
        x = self._env[-n:] - float(np.mean(self._env[-n:]))
        spec = np.fft.rfft(x, self._nfft_env)
        acf = np.fft.irfft(spec.real**2 + spec.imag**2, self._nfft_env)[: len(self._env)]
        if acf[0] <= 1e-12:
            return
        score = acf / acf[0] * self._prior[: len(acf)]
        lag = int(np.argmax(score))
        if score[lag] < 0.1 or lag < 1 or lag >= len(score) - 1:
            return
        a, b, c = score[lag - 1], score[lag], score[lag + 1]
        denom = a - 2 * b + c
        frac = 0.5 * (a - c) / denom if denom < 0 else 0.0
        bpm = 60.0 * self.frame_rate / (lag + frac)
        self.tempo_bpm = float(min(max(bpm, self.config.tempo_min), self.config.tempo_max))

    def _track_beat(self, t: float, onset: bool) -> bool:
        if self.tempo_bpm <= 0.0:
            return False
        period = 60.0 / self.tempo_bpm
        onset_t = t - 0.5 * self.blocksize / self.samplerate  # the middle of the block
        if onset:
            err = (onset_t - self._anchor) / period
            err -= round(err)
            if abs(err) < 0.25:
                self._anchor += 0.5 * err * period
                self._synced_t = t
            elif t - self._synced_t > 2.0 * period:
                self._anchor = onset_t  # lost the beat: take this onset as one
                self._synced_t = t
        phase = ((t - self._anchor) / period) % 1.0
        beat = phase < self._phase
        self._phase = phase
        return beat
