"""``perform audio FILE``: analyse a sound file as fast as possible. perform.cli wires it in."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from perform.audio.analysis import Analyzer
from perform.audio.config import AudioConfig
from perform.audio.input import read_audio_file
from perform.errors import ConfigError


def add_audio_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``audio`` to perform's sub-parsers."""
    p = subparsers.add_parser("audio", help="analyse a sound file: level, bands, onsets, tempo")
    p.add_argument("file", type=Path, metavar="FILE", help="sound file (WAV; others with soundfile)")
    p.add_argument("--json", action="store_true", help="one JSON object per block on stdout")
    p.add_argument("--blocksize", type=int, default=512, metavar="N", help="samples per block (default 512)")
    p.add_argument("--bands", type=int, default=8, metavar="N", help="frequency bands (default 8)")
    return p


def cmd_audio(args: argparse.Namespace, console: Console) -> int:
    """Run ``perform audio``; returns 0, raises PerformError (naming the path) on a bad file."""
    samples, rate = read_audio_file(args.file)
    try:
        config = AudioConfig(
            samplerate=rate, blocksize=args.blocksize, bands=args.bands, fmax=min(16000.0, rate / 2)
        )
    except ValidationError as exc:
        raise ConfigError(f"bad option: {exc.errors()[0]['msg']}", args.file) from exc
    analyzer = Analyzer(rate, args.blocksize, config)
    mono = samples.mean(axis=1, dtype="float32")
    onsets, last = 0, None
    for start in range(0, len(mono) - args.blocksize + 1, args.blocksize):
        f = analyzer.update(mono[start : start + args.blocksize])
        onsets += f.onset
        last = f
        if args.json:
            line = {
                "t": round(f.t, 5),
                "level": round(f.level, 4),
                "bands": [round(b, 4) for b in f.bands],
                "onset": f.onset,
                "tempo": round(f.tempo_bpm, 2),
            }
            print(json.dumps(line), flush=False)
    if not args.json:
        seconds = len(mono) / rate
        tempo = f"{last.tempo_bpm:.1f} BPM" if last is not None and last.tempo_bpm > 0 else "no tempo found"
        console.print(
            f"{args.file}: {seconds:.2f} s at {rate} Hz, {samples.shape[1]} channel(s); "
            f"{onsets} onsets, {tempo}",
            highlight=False,
        )
    return 0
