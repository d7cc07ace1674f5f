"""perform: real-time interactive performance from a live camera."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
