"""MIDI out: features as control changes, events as notes, for Ableton Live and other MIDI programs."""

from perform.midi.out import MidiOut, MidiOutStage, open_port

__all__ = ["MidiOut", "MidiOutStage", "open_port"]
