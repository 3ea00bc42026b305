"""One module a report section, each owning its numbers, its sentences and its chart: the
failure survey (:mod:`~analysis.sections.survey`), the samples
(:mod:`~analysis.sections.samples`), the gradients that die
(:mod:`~analysis.sections.vanishing`), diversity collapse
(:mod:`~analysis.sections.collapse`), the hyperparameter landscape
(:mod:`~analysis.sections.landscape`) and the gradient probe
(:mod:`~analysis.sections.probe`). The race, the atlas and the claims are packages of their
own (:mod:`analysis.race`, :mod:`analysis.atlas`, :mod:`analysis.claims`); the budget's reach is
:mod:`analysis.reach`, a command too. analysis.report only assembles."""
