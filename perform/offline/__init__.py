"""Offline analysis: a video, a folder of images or a take through the show's perception and
events (:mod:`~perform.offline.run`), written as CSV and JSON Lines (:mod:`~perform.offline.table`)
and plotted (:mod:`~perform.offline.plot`): ``perform pose INPUT`` and ``perform plot FILE.csv``.
Nothing is imported here, so building the command line stays light."""
