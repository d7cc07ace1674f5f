"""A show with audio: features from a WAV file reach rules and OSC beside the movement features."""

import socket
import time
import wave

import numpy as np
from pythonosc.osc_packet import OscPacket

from perform.audio.config import AudioConfig
from perform.events.config import EventsConfig
from perform.osc.config import Osc, Target
from perform.runtime import ShowPipeline
from perform.show.models import Control, Show
from perform.vision.config import PoseConfig, VirtualSource


def write_clicks(path, seconds=6.0, rate=48000, bpm=120):
    signal = np.zeros(int(seconds * rate), np.float32)
    for k in range(int(seconds * bpm / 60)):
        start = int(k * 60 / bpm * rate)
        signal[start : start + 480] = 0.9 * np.hanning(480)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())


def test_audio_features_reach_rules_and_osc(tmp_path):
    wav = tmp_path / "clicks.wav"
    write_clicks(wav)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    show = Show(
        source=VirtualSource(kind="virtual", people=1, seed=2),
        pose=PoseConfig(max_people=1),
        audio=AudioConfig(enabled=True, file=wav),
        events=EventsConfig(rules=[{"name": "click", "feature": "audio.peak", "above": 0.5, "release": 0.2}]),
        osc=Osc(targets=[Target(host="127.0.0.1", port=rx.getsockname()[1], preset="default")]),
        control=Control(enabled=False),
    )
    pipeline = ShowPipeline(show)
    pipeline.start()
    seen: dict[str, list] = {}
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and not (
            "/perform/evt/click" in seen
            and "/perform/ctl/audio/level" in seen
            and pipeline.stats.stage("audio").frames > 50
        ):
            try:
                data = rx.recv(65536)
            except TimeoutError:
                continue
            for packet in OscPacket(data).messages:
                seen.setdefault(packet.message.address, []).append(packet.message.params)
    finally:
        pipeline.stop()
        rx.close()
    assert "/perform/ctl/audio/level" in seen
    assert any(v[0] > 0 for v in seen["/perform/ctl/audio/level"])
    assert "/perform/evt/click" in seen  # a rule over an audio feature fired
    assert pipeline.stats.stage("audio").frames > 50
