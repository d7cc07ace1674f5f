"""No import runs back up the layers, and no package reaches another's private names."""

from __future__ import annotations

from tests import layers


def test_every_unit_has_a_layer_and_imports_only_downward() -> None:
    found = layers.imports()
    assert len(found) > 100  # the scan sees the package's imports
    assert layers.problems(found) == []


def test_an_upward_import_is_reported() -> None:
    upward = layers.Import("perform/vision/x.py", 3, "vision", "show", "Show")
    private = layers.Import("perform/osc/x.py", 4, "osc", "vision", "_Hidden")
    assert layers.problems([upward, private]) == [
        "perform/vision/x.py:3: vision imports show (a higher layer)",
        "perform/osc/x.py:4: osc imports the private name vision._Hidden",
    ]
