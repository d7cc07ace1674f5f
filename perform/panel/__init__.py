"""The operator's web panel: run the show and watch its health from a phone or tablet."""
