"""The claims table: each claim's predictions measured on a study's trials
(:mod:`~analysis.claims.table`) and the stated rule that turns them into verdicts
(:mod:`~analysis.claims.rule`)."""
