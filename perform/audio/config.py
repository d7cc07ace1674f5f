"""The ``audio:`` section of a show file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from perform.schema import Model, resolve_path


class AudioConfig(Model):
    """Where the sound comes from and how it is analysed."""

    enabled: bool = Field(False, description="Analyse live audio and send its features.")
    device: str | None = Field(
        None,
        description="Part of the input device's name, as `perform devices` lists it (case-insensitive); "
        "names survive replugging, indices do not. None: the system's default input.",
    )
    file: Path | None = Field(
        None,
        description="A sound file played as the input in real time, looping (for rehearsal and tests); "
        "replaces the device. WAV always; other formats when soundfile is installed.",
    )
    samplerate: int = Field(48000, ge=8000, le=192000, description="Samples per second asked of the device.")
    blocksize: int = Field(
        512, ge=64, le=8192, description="Samples per analysis block: smaller is quicker, costs more CPU."
    )
    channels: int = Field(1, ge=1, le=32, description="Input channels opened; they are mixed to mono.")
    buffer_s: float = Field(
        1.0,
        gt=0.0,
        le=10.0,
        description="Ring buffer length in seconds between the sound card and the analysis.",
    )
    bands: int = Field(8, ge=1, le=32, description="Number of log-spaced frequency bands (audio.band1..N).")
    fmin: float = Field(40.0, gt=0.0, description="Lower edge of the lowest band, Hz.")
    fmax: float = Field(
        16000.0, gt=0.0, description="Upper edge of the highest band, Hz (capped at Nyquist)."
    )
    smoothing_s: float = Field(
        0.08, ge=0.0, le=5.0, description="Time constant of the band and level smoothing (release), seconds."
    )
    onset_sensitivity: float = Field(
        0.5, ge=0.0, le=1.0, description="0 only the strongest attacks count as onsets, 1 almost any change."
    )
    tempo_min: float = Field(60.0, gt=0.0, description="Slowest tempo looked for, BPM.")
    tempo_max: float = Field(180.0, gt=0.0, description="Fastest tempo looked for, BPM.")
    tempo_window_s: float = Field(
        6.0, ge=2.0, le=30.0, description="Seconds of onset history the tempo is estimated from."
    )

    _resolve_file = field_validator("file")(resolve_path)

    @model_validator(mode="after")
    def _ranges(self) -> AudioConfig:
        if self.fmax <= self.fmin:
            raise ValueError(f"expected fmin < fmax, got fmin {self.fmin} and fmax {self.fmax}")
        if self.tempo_max <= self.tempo_min:
            raise ValueError(
                f"expected tempo_min < tempo_max, "
                f"got tempo_min {self.tempo_min} and tempo_max {self.tempo_max}"
            )
        if self.blocksize / self.samplerate > 0.1:
            raise ValueError(
                f"expected a block of at most 0.1 s, got blocksize {self.blocksize} at {self.samplerate} Hz"
            )
        return self
