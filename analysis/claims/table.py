"""gan.py's three claims about the vanilla GAN, each tested on the study's own data.

1. Vanishing gradients: with the saturating (minimax) loss, G's gradient vanishes once D
   gets good.
2. Lack of diversity: the non-saturating loss punishes a fake sample far more than a
   missing mode, so G trades diversity for realism.
3. No signal: a fresh G's samples barely overlap the data, D separates them almost
   perfectly, and the JS-based losses give G nothing to follow; Wasserstein does.

Each claim makes predictions, measured here; :mod:`analysis.claims.rule` turns them into
verdicts (:data:`RULE` states how). Loss
comparisons need a paired atlas (:mod:`analysis.stats.paired`); the others hold in any design.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

from analysis import findings
from analysis.sections import probe as probe_section
from gan.census import census, failures
from gan.census import outcomes
from analysis.stats.paired import PairedTest, PairingError, pairs, rate_test, shift_test
from analysis.stats.intervals import excluded_text, rate_text, span_text, wilson_interval
# The verdict rule, re-exported: the claims table's callers read it from here.
from analysis.claims.rule import (CANNOT_TELL, CONTRADICTED, EARLY_EPOCHS,
                                  MARGIN, PROBE_STEADY, PROBE_VANISHED, SEPARATED_JS,
                                  SUPPORTED, Prediction, claim_verdict, decide)

CLAIMS = {
    1: "With the saturating (minimax) loss, G's gradient vanishes once D gets good.",
    2: "The non-saturating loss -log D(G(z)) punishes a fake sample more than a missing "
       "mode, so G trades diversity for realism.",
    3: "A fresh G's samples barely overlap the data, D separates them almost perfectly and "
       "JS gives G nothing to follow; Wasserstein removes the problem.",
}
PAIRED_ONLY = "not tested: this design does not train each loss at the same points"


@dataclass(frozen=True)
class Inputs:
    """What the claims read: classified trials (with their peak diversity), the design's step
    means per epoch, the gradient probe (None when skipped), and whether the design is paired."""

    trials: pd.DataFrame
    history: pd.DataFrame
    probe: pd.DataFrame | None
    paired: bool


def _paired(inputs: Inputs, claim: int, text: str, population: str, trials: pd.DataFrame,
            column: str, a: str, b: str, test: Callable[[np.ndarray, np.ndarray], PairedTest],
            expect: str, empty: str) -> Prediction:
    """A loss-against-loss prediction: ``test`` of ``column`` at the points both ran."""
    if not inputs.paired:
        return Prediction(claim, text, f"{a} vs {b}", 0, PAIRED_ONLY)
    try:
        table = pairs(trials, column, a, b)
    except PairingError as err:
        return Prediction(claim, text, population, 0, f"not tested: {err}")
    if not len(table):
        return Prediction(claim, text, population, 0, empty)
    result = test(table[a].to_numpy(), table[b].to_numpy())
    return Prediction(claim, text, population, result.n, "", test=result, expect=expect)


def _paired_rate(inputs: Inputs, claim: int, text: str, a: str, b: str,
                 hit: Callable[[pd.Series], pd.Series], label: str, expect: str,
                 column: str = "failure") -> Prediction:
    """A paired rate of ``hit(column)``: the census class (``failure``), or for a comparison
    across losses whose classes differ, the samples' outcome (``outcome``)."""
    if column not in inputs.trials:
        return Prediction(claim, text, f"{a} vs {b}", 0, f"not tested: no {column} column")
    trials = findings.judged(inputs.trials, column).assign(hit=lambda t: hit(t[column]))
    test = partial(rate_test, margin=MARGIN) if expect == "not_less" else rate_test
    judged = "an outcome" if column == "outcome" else "a class"
    arms = inputs.trials[inputs.trials["loss"].astype(str).isin([a, b])] \
        if "loss" in inputs.trials else inputs.trials.iloc[:0]
    excluded = census.no_verdict_counts(arms, column)
    left = (f"; left out: {excluded_text(excluded)} {a} or {b} trials without {judged}"
            if sum(excluded.values()) else "")
    return _paired(inputs, claim, text,
                   f"points where {a} and {b} both have {judged} ({label}){left}",
                   trials, "hit", a, b, test, expect, f"no such points (no {a} or {b} trials)")


def _paired_shift(inputs: Inputs, claim: int, text: str, column: str, expect: str
                  ) -> Prediction:
    learned = inputs.trials[inputs.trials["peak_diversity"] >= failures.COLLAPSE_PEAK]
    population = (f"points where ns and minimax both learned (diversity reached "
                  f"{failures.COLLAPSE_PEAK}); final {column}")
    return _paired(inputs, claim, text, population, findings.design_trials(learned), column,
                   "ns", "minimax", shift_test, expect, "no such points")


def _probe(inputs: Inputs) -> Prediction:
    text = ("Probe: as a fresh D trains against a frozen G, minimax's gradient falls by orders "
            "of magnitude and ns's does not.")
    trained = None if inputs.probe is None else inputs.probe[inputs.probe["stage_epoch"] > 0]
    if trained is None or not len(trained):
        return Prediction(1, text, "gradient probe", 0, "not measured (the probe was skipped)")
    minimax, ns = (probe_section.orders(trained, cost) for cost in ("minimax", "ns"))
    mm, nn = float(minimax.median()), float(ns.median())
    verdict = (SUPPORTED if mm >= PROBE_VANISHED and nn < PROBE_STEADY else
               CONTRADICTED if mm < PROBE_STEADY else CANNOT_TELL)
    per_stage = "; ".join(
        f"after epoch {int(stage)}: minimax {minimax[stage].median():+.1f}, ns "
        f"{ns[stage].median():+.1f}" for stage in sorted(minimax.index.unique("stage_epoch")))
    stages = ", ".join(str(int(s)) for s in sorted(trained["stage_epoch"].unique()))
    return Prediction(1, text, f"probes of G frozen after epochs {stages}", len(minimax),
                      f"median fall: minimax {mm:+.1f} [{minimax.min():+.1f}, {minimax.max():+.1f}]"
                      f", ns {nn:+.1f} [{ns.min():+.1f}, {ns.max():+.1f}] orders of magnitude "
                      f"(negative: it grew); per stage, {per_stage}", verdict)


def fresh_separation(probe: pd.DataFrame) -> pd.DataFrame:
    """Per probe of a G frozen at initialisation or within the first :data:`EARLY_EPOCHS`
    epochs: the converged fresh D's last measurement (JS lower bound, D(x), D(G(z)))."""
    early = probe[probe["stage_epoch"] <= EARLY_EPOCHS]
    last = early.sort_values("d_iteration").groupby(["stage_epoch", "probe_seed"]).tail(1)
    return last[["stage_epoch", "probe_seed", "d_iteration", "js_lower_bound", "d_real",
                 "d_fake"]].sort_values(["stage_epoch", "probe_seed"])


def _converged_separation(inputs: Inputs) -> Prediction:
    text = (f"A fresh D trained to convergence against G as initialised and within the first "
            f"{EARLY_EPOCHS} epochs separates data from samples almost perfectly (JS lower "
            f"bound >= {SEPARATED_JS:.3f}, log 2 = 0.693).")
    probe = inputs.probe
    if probe is None or "js_lower_bound" not in probe or not len(probe):
        return Prediction(3, text, "gradient probe", 0, "not measured (the probe was skipped)")
    last = fresh_separation(probe)
    if not len(last):
        return Prediction(3, text, "gradient probe", 0, "no probe of an early G")
    separated = last["js_lower_bound"] >= SEPARATED_JS
    verdict = SUPPORTED if separated.all() else CONTRADICTED if not separated.any() \
        else CANNOT_TELL
    parts = "; ".join(
        f"{'as initialised' if stage == 0 else f'after epoch {int(stage)}'}: JS bound "
        f"{span_text(g['js_lower_bound'], '.3f')}, D(x) {span_text(g['d_real'], '.3f')}, "
        f"D(G(z)) {span_text(g['d_fake'], '.3f')}"
        for stage, g in last.groupby("stage_epoch"))
    seeds = last["probe_seed"].nunique()
    return Prediction(3, text, f"fresh D after {int(last['d_iteration'].max())} iterations, "
                      f"{seeds} D seeds per stage", len(last),
                      f"{int(separated.sum())} of {len(last)} probes separated; {parts}", verdict)


def early_separation(history: pd.DataFrame, trials: pd.DataFrame) -> pd.Series:
    """Per ns or minimax trial of the design: whether D separated almost perfectly
    (js_lower_bound >= :data:`SEPARATED_JS`) in any of the first :data:`EARLY_EPOCHS` epochs."""
    own = findings.design_trials(trials)
    if "loss" not in own or "js_lower_bound" not in history:
        return pd.Series(dtype=bool)
    ids = own.loc[own["loss"].isin(("ns", "minimax")), "trial_id"]
    early = history[history["trial_id"].isin(ids) & (history["epoch"] <= EARLY_EPOCHS)]
    return early.groupby("trial_id")["js_lower_bound"].max() >= SEPARATED_JS


def _separation(inputs: Inputs) -> list[Prediction]:
    texts = (f"Secondary (the training D, not a converged one): in the first {EARLY_EPOCHS} "
             f"epochs the online D's epoch-mean JS lower bound reaches {SEPARATED_JS:.3f}.",
             "Secondary (the training D): ns and minimax trials whose online D separated early "
             "fail more often than the others.")
    separated = early_separation(inputs.history, inputs.trials)
    n, k = len(separated), int(separated.sum())
    if not n:
        return [Prediction(3, t, "ns and minimax trials", 0, "no such trials", secondary=True)
                for t in texts]
    low, high = wilson_interval(k, n)
    share = Prediction(3, texts[0], "ns and minimax trials", n, rate_text(k, n),
                       SUPPORTED if low > 0.5 else CONTRADICTED if high < 0.5 else CANNOT_TELL,
                       secondary=True)
    judged = findings.judged(inputs.trials).set_index("trial_id")
    judged = judged.loc[judged.index.intersection(separated.index)]
    failed = judged["failure"].isin(failures.FAILURES)
    sep = separated.reindex(judged.index).astype(bool)
    groups = [(int(failed[sep].sum()), int(sep.sum())), (int(failed[~sep].sum()), int((~sep).sum()))]
    population = "ns and minimax trials with a class, separated early or not"
    if min(n for _, n in groups) == 0:
        return [share, Prediction(3, texts[1], population, len(judged),
                                  f"no contrast: {groups[0][1]} separated, {groups[1][1]} not",
                                  secondary=True)]
    return [share, Prediction(3, texts[1], population, len(judged), "",
                              test=fisher_test(groups[0], groups[1]), secondary=True)]


def fisher_test(a: tuple[int, int], b: tuple[int, int]) -> PairedTest:
    """Fisher's exact test of two independent rates (k, n): effect rate(a) - rate(b)."""
    (ka, na), (kb, nb) = a, b
    table = [[ka, na - ka], [kb, nb - kb]]
    p_greater = stats.fisher_exact(table, alternative="greater").pvalue
    p_less = stats.fisher_exact(table, alternative="less").pvalue
    short = "" if 0 < ka + kb < na + nb else "no contrast in the outcome (all alike)"
    return PairedTest(na + nb, ka / na - kb / nb, math.nan, math.nan, float(p_greater),
                      float(p_less), "Fisher exact",
                      f"separated {rate_text(ka, na)}; not {rate_text(kb, nb)}", short)


def _is(cls: str) -> Callable[[pd.Series], pd.Series]:
    return lambda failure: failure == cls


FAILED_LABEL = "failed by its samples: collapsed, not learned or diverged"


def predictions(inputs: Inputs) -> list[Prediction]:
    """Every claim's predictions, measured, before their verdicts (see :func:`decide`)."""
    vanishing, collapse = failures.class_label(failures.VANISHING), \
        failures.class_label(failures.MODE_COLLAPSE)
    return [
        _paired_rate(inputs, 1, "minimax ends in vanishing gradients more often than ns at "
                     "the same points.", "minimax", "ns", _is(failures.VANISHING), vanishing,
                     "greater"),
        _probe(inputs),
        _paired_shift(inputs, 2, "ns ends with higher density (realism) than minimax at the "
                      "same points.", "density", "greater"),
        _paired_shift(inputs, 2, "ns ends with lower coverage (diversity) than minimax at the "
                      "same points.", "coverage", "less"),
        _paired_rate(inputs, 2, "ns collapses no less often than minimax at the same points.",
                     "ns", "minimax", _is(failures.MODE_COLLAPSE), collapse, "not_less"),
        _converged_separation(inputs),
        *_separation(inputs),
        _paired_rate(inputs, 3, "wgan-gp fails less often than ns at the same points.",
                     "wgan-gp", "ns", outcomes.samples_failed, FAILED_LABEL, "less", "outcome"),
        _paired_rate(inputs, 3, "wgan-gp fails less often than minimax at the same points.",
                     "wgan-gp", "minimax", outcomes.samples_failed, FAILED_LABEL, "less", "outcome"),
    ]


PAIRED_COMMAND = ("python -m study.run --design atlas --paired --num-samples 120 "
                  "--dataset embedded")


def untested_line(detail: pd.DataFrame) -> str:
    """One line for the predictions this design cannot test (and the design that can), or ""."""
    untested = detail[detail["measured"].astype(str).str.startswith("not tested")]
    if untested.empty:
        return ""
    letters = "abcdefgh"
    names = []
    for claim, group in detail.groupby("claim", sort=False):
        names += [f"{claim}{letters[i]}" for i, (idx, _) in enumerate(group.iterrows())
                  if idx in untested.index]
    return (f"Not tested by this design: prediction{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)}, which compare losses at the same points; a paired atlas "
            f"tests them: `{PAIRED_COMMAND}`.")


def _untested(p: Prediction) -> bool:
    return str(p.measured).startswith("not tested")


def claims_tables(inputs: Inputs, tested_only: bool = False
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per claim, one row per prediction), both with verdicts.

    ``tested_only``: leave out the predictions this design cannot test (``untested_line``
    names them). A claim still takes the verdict of all its predictions (an untested one
    counts as 'the data cannot tell'), says how many were tested here, and is left out when
    none was.
    """
    return _tables(decide(predictions(inputs)), tested_only)


def report_tables(inputs: Inputs) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """What a report shows: the tables of the predictions this design tests, and the line
    that names the others (the tests run once)."""
    preds = decide(predictions(inputs))
    return (*_tables(preds, tested_only=True), untested_line(_detail(preds)))


def _detail(preds: list[Prediction]) -> pd.DataFrame:
    return pd.DataFrame([{"claim": p.claim, "prediction": p.text, "population": p.population,
                          "n": p.n, "measured": p.measured, "verdict": p.verdict}
                         for p in preds])


def _tables(preds: list[Prediction], tested_only: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    shown = [p for p in preds if not (tested_only and _untested(p))]
    detail = _detail(shown)
    rows = []
    letters = "abcdefgh"
    for claim, text in CLAIMS.items():
        mine = [(letters[i], p) for i, p in enumerate(q for q in preds if q.claim == claim)]
        visible = [(letter, p) for letter, p in mine if p in shown]
        if not visible:
            continue
        row = {"claim": f"{claim}. {text}",
               "predictions": " ".join(f"({letter}) {p.text}" for letter, p in visible),
               "measured": " ".join(f"({letter}) n={p.n}: {p.measured} [{p.verdict}]"
                                    for letter, p in visible),
               "verdict": claim_verdict([p.verdict for _, p in mine if not p.secondary])}
        if tested_only:
            row["tested here"] = f"{len(visible)} of {len(mine)}"
        rows.append(row)
    return pd.DataFrame(rows), detail


def claim_inputs(trials: pd.DataFrame, history: pd.DataFrame, probe: pd.DataFrame | None,
                 paired: bool) -> Inputs:
    """:class:`Inputs` from a study's classified trials and history (adds peak diversity)."""
    peak = history.groupby("trial_id")["diversity"].max() if "diversity" in history else \
        pd.Series(dtype=float)
    trials = trials.assign(peak_diversity=trials["trial_id"].map(peak).fillna(0.0))
    return Inputs(trials, history, probe, paired)
