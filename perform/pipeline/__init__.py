"""The pipeline core: frames, latest-wins slots, stages and their stats."""

from perform.pipeline.events import EventCursor, EventLog
from perform.pipeline.frame import Frame, Stamped
from perform.pipeline.pipeline import Pipeline
from perform.pipeline.slot import Reader, Slot
from perform.pipeline.stage import POLL_S, ProcessStage, Stage, StageState
from perform.pipeline.stats import LatencyHistogram, StageStats, Stats

__all__ = [
    "POLL_S",
    "EventCursor",
    "EventLog",
    "Frame",
    "LatencyHistogram",
    "Pipeline",
    "ProcessStage",
    "Reader",
    "Slot",
    "Stage",
    "StageState",
    "StageStats",
    "Stamped",
    "Stats",
]
