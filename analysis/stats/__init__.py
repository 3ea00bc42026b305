"""The statistics the report's rates and claims rest on: Wilson intervals and rate comparisons
(:mod:`~analysis.stats.intervals`), paired tests between losses at the same points
(:mod:`~analysis.stats.paired`) and the exact non-inferiority test
(:mod:`~analysis.stats.noninferiority`). Pure functions of numbers: no study folder, no chart."""
