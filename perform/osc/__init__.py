"""Open Sound Control: poses, features, events and status out to TouchDesigner, Ableton, desks."""
