"""What is attached to this machine: cameras, audio inputs, displays, MIDI ports, NDI sources.

Each probe returns what it found, or one line saying why it found nothing; none raises.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from perform.quiet import quiet_stderr


@dataclass
class Probe:
    """The result of looking for one kind of device."""

    kind: str
    found: list[dict[str, object]] = field(default_factory=list)
    problem: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def cameras() -> Probe:
    probe = Probe("cameras")
    sysfs = Path("/sys/class/video4linux")
    if sys.platform.startswith("linux"):
        for node in sorted(
            sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 0
        ):
            name_file = node / "name"
            name = name_file.read_text().strip() if name_file.exists() else "?"
            probe.found.append({"index": int(node.name[5:]), "path": f"/dev/{node.name}", "name": name})
        if not probe.found:
            probe.problem = "no cameras (/dev/video* is empty)"
        return probe
    import cv2

    with quiet_stderr():
        for index in range(6):
            cap = cv2.VideoCapture(index)
            if cap.isOpened():
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                probe.found.append({"index": index, "path": "", "name": f"{w}x{h}"})
            cap.release()
    if not probe.found:
        probe.problem = "no cameras answered on indices 0-5"
    return probe


def audio_inputs() -> Probe:
    probe = Probe("audio inputs")
    try:
        with quiet_stderr():
            import sounddevice as sd

            devices = sd.query_devices()
            apis = sd.query_hostapis()
    except OSError as exc:
        probe.problem = f"{exc} (install PortAudio: apt-get install libportaudio2)"
        return probe
    except Exception as exc:
        probe.problem = f"cannot list audio devices: {exc}"
        return probe
    for index, dev in enumerate(devices):
        if dev["max_input_channels"] > 0:
            probe.found.append(
                {
                    "index": index,
                    "name": dev["name"],
                    "api": apis[dev["hostapi"]]["name"],
                    "channels": dev["max_input_channels"],
                    "samplerate": dev["default_samplerate"],
                }
            )
    if not probe.found:
        probe.problem = "no audio inputs"
    return probe


def displays() -> Probe:
    probe = Probe("displays")
    try:
        import glfw
    except Exception as exc:
        probe.problem = f"glfw unavailable: {exc}"
        return probe
    errors: list[str] = []
    glfw.set_error_callback(lambda code, text: errors.append(text.decode(errors="replace")))
    with quiet_stderr():
        ok = glfw.init()
    if not ok:
        probe.problem = f"no display: {errors[-1] if errors else 'glfw could not start'}"
        return probe
    try:
        primary = glfw.get_primary_monitor()
        for index, monitor in enumerate(glfw.get_monitors()):
            mode = glfw.get_video_mode(monitor)
            probe.found.append(
                {
                    "index": index,
                    "name": glfw.get_monitor_name(monitor).decode(errors="replace"),
                    "size": f"{mode.size.width}x{mode.size.height}",
                    "refresh_hz": mode.refresh_rate,
                    "primary": monitor == primary,
                }
            )
    finally:
        glfw.terminate()
    if not probe.found:
        probe.problem = "a display server, but no monitors"
    return probe


def midi_ports() -> Probe:
    probe = Probe("MIDI ports")
    try:
        import mido

        mido.set_backend("mido.backends.rtmidi", load=True)
    except Exception:
        probe.problem = "MIDI needs python-rtmidi: pip install 'perform[midi]'"
        return probe
    try:
        with quiet_stderr():
            outputs = mido.get_output_names()
            inputs = mido.get_input_names()
    except Exception as exc:
        probe.problem = f"no MIDI system: {exc}"
        return probe
    probe.found = [{"direction": "out", "name": n} for n in outputs] + [
        {"direction": "in", "name": n} for n in inputs
    ]
    if not probe.found:
        probe.problem = "no MIDI ports"
    return probe


def ndi_sources() -> Probe:
    """The NDI sources in sight (``--source ndi:NAME`` takes one as the camera)."""
    probe = Probe("NDI sources")
    try:
        from perform.share.ndi import find_sources

        probe.found = [{"name": name, "source": f"ndi:{name}"} for name in find_sources()]
    except Exception as exc:  # no cyndilib, or its runtime failing
        probe.problem = str(exc)
        return probe
    if not probe.found:
        probe.problem = (
            "no NDI sources in sight (without mDNS, list peers in NDI_CONFIG_DIR's ndi-config.v1.json)"
        )
    return probe


def probe_all() -> list[Probe]:
    """Every probe, in the order ``perform devices`` prints them."""
    return [cameras(), audio_inputs(), displays(), midi_ports(), ndi_sources()]
