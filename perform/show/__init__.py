"""The show file: what a performance runs, validated at the boundary."""

from perform.show.loader import load_show
from perform.show.models import Show, SourceConfig
from perform.show.sourcespec import parse_source

__all__ = ["Show", "SourceConfig", "load_show", "parse_source"]
