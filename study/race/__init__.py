"""The race after the search: its rule (:mod:`~study.race.rule`: which contenders a round
drops, pure and simulated in the tests), its rounds under Tune (:mod:`~study.race.rounds`: the
contenders, each round's runs, the held-out estimate, race.json) and the runs read back from
the trial folders (:mod:`~study.race.runs`)."""
