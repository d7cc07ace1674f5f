"""Events: named moments (hands up, a jump, a taught pose, a zone entered) derived from bodies."""

from perform.events.types import Event

__all__ = ["Event"]
