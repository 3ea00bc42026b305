"""The race after the search, read from ``race.json``: its tables
(:mod:`~analysis.race.tables`), its sentences (:mod:`~analysis.race.text`), its chart
(:mod:`~analysis.race.plots`), and the report's summary block and section
(:mod:`~analysis.race.section`)."""
