"""The failure atlas, per loss: class rates, where each class lives, onsets and quality
(:mod:`~analysis.atlas.tables`), and their charts (:mod:`~analysis.atlas.plots`)."""
