"""Live audio analysis: an input (sound card or file) fills a ring buffer, a stage turns it into features."""

from perform.audio.analysis import AUDIO_FEATURES, Analyzer, AudioFeatures, audio_features
from perform.audio.config import AudioConfig
from perform.audio.input import AudioInput, AudioStage, FileInput, SoundDeviceInput, open_input
from perform.audio.ring import RingBuffer

__all__ = [
    "AUDIO_FEATURES",
    "Analyzer",
    "AudioConfig",
    "AudioFeatures",
    "AudioInput",
    "AudioStage",
    "FileInput",
    "RingBuffer",
    "SoundDeviceInput",
    "audio_features",
    "open_input",
]
