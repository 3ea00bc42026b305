"""gan.py's three claims about the vanilla GAN, each tested on the study's own data.

1. Vanishing gradients: with the saturating (minimax) loss, G's gradient vanishes once D
   gets good.
2. Lack of diversity: the non-saturating loss punishes a fake sample far more than a
   missing mode, so G trades diversity for realism.
3. No signal: a fresh G's samples barely overlap the data, D separates them almost
   perfectly, and the JS-based losses give G nothing to follow; Wasserstein does.

Each claim makes predictions (:data:`RULE` states how each becomes a verdict). Loss
comparisons need a paired atlas (:mod:`analysis.paired`); the others hold in any design.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from analysis import findings
from gan import failures
from analysis.paired import PairedTest, PairingError, pairs, rate_test, shift_test
from analysis.stats import rate_text, wilson_interval

SUPPORTED, CONTRADICTED, CANNOT_TELL = "supported", "contradicted", "the data cannot tell"
ALPHA = 0.05
MARGIN = 0.10  # "no lower": the paired rate difference's 95% interval stays above -MARGIN
EARLY_EPOCHS = 3  # "in the first epochs"
# D separates almost perfectly: d_loss at or below the census's D-wins threshold, i.e. the
# JS lower bound log 2 - d_loss within D_WINS_LOSS of log 2.
SEPARATED_JS = math.log(2) - failures.D_WINS_LOSS
PROBE_VANISHED = 2.0  # orders of magnitude minimax's probe gradient must fall
PROBE_STEADY = 1.0  # ... while ns's falls by less than this
CLAIMS = {
    1: "With the saturating (minimax) loss, G's gradient vanishes once D gets good.",
    2: "The non-saturating loss -log D(G(z)) punishes a fake sample more than a missing "
       "mode, so G trades diversity for realism.",
    3: "A fresh G's samples barely overlap the data, D separates them almost perfectly and "
       "JS gives G nothing to follow; Wasserstein removes the problem.",
}
RULE = (f"Each prediction is a one-sided test in its predicted direction and in the opposite "
        f"one; the smaller p is Holm-adjusted over every test of the table. Supported: "
        f"adjusted p < {ALPHA} in the predicted direction; contradicted: adjusted p < {ALPHA} "
        f"in the opposite direction; otherwise the data cannot tell. A 'no lower' prediction "
        f"is supported when the 95% interval of the paired difference stays above "
        f"-{MARGIN:.2f} and contradicted when the difference is significantly negative. A "
        f"share is supported (contradicted) when its 95% Wilson interval lies above (below) "
        f"one half. The probe's prediction is supported when minimax's gradient fell by at "
        f"least {PROBE_VANISHED:g} orders of magnitude and ns's by less than {PROBE_STEADY:g}, "
        f"contradicted when minimax's fell by less than {PROBE_STEADY:g}. A claim is "
        f"contradicted when any of its predictions is, supported when all are, and otherwise "
        f"the data cannot tell.")
PAIRED_ONLY = "not tested: this design does not train each loss at the same points"


@dataclass(frozen=True)
class Prediction:
    """One measurable prediction and what the data say of it."""

    claim: int
    text: str
    population: str
    n: int
    measured: str
    verdict: str = CANNOT_TELL
    test: PairedTest | None = None  # a test whose p-value joins the Holm adjustment
    expect: str = "greater"  # the predicted direction of A - B: greater, less, or not_less


@dataclass(frozen=True)
class Inputs:
    """What the claims read: classified trials (with their peak diversity), the design's step
    means per epoch, the gradient probe (None when skipped), and whether the design is paired."""

    trials: pd.DataFrame
    history: pd.DataFrame
    probe: pd.DataFrame | None
    paired: bool


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979); NaN stays NaN and is not counted."""
    order = [i for i in np.argsort(pvalues) if not math.isnan(pvalues[i])]
    adjusted, running = [math.nan] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _judged_pairs(trials: pd.DataFrame, a: str, b: str, column: str) -> pd.DataFrame:
    return pairs(findings.judged(trials), column, a, b)


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
                 hit: Callable[[pd.Series], pd.Series], label: str, expect: str) -> Prediction:
    trials = findings.judged(inputs.trials).assign(hit=lambda t: hit(t["failure"]))
    return _paired(inputs, claim, text, f"points where {a} and {b} both have a class ({label})",
                   trials, "hit", a, b, rate_test, expect, f"no such points (no {a} or {b} trials)")


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
    if inputs.probe is None or not len(inputs.probe):
        return Prediction(1, text, "gradient probe", 0, "not measured (the probe was skipped)")
    minimax, ns = (findings.probe_orders(inputs.probe, cost) for cost in ("minimax", "ns"))
    mm, nn = float(minimax.median()), float(ns.median())
    verdict = (SUPPORTED if mm >= PROBE_VANISHED and nn < PROBE_STEADY else
               CONTRADICTED if mm < PROBE_STEADY else CANNOT_TELL)
    per_stage = "; ".join(
        f"after epoch {int(stage)}: minimax {minimax[stage].median():+.1f}, ns "
        f"{ns[stage].median():+.1f}" for stage in sorted(minimax.index.unique("stage_epoch")))
    stages = ", ".join(str(int(s)) for s in sorted(inputs.probe["stage_epoch"].unique()))
    return Prediction(1, text, f"probes of G frozen after epochs {stages}", len(minimax),
                      f"median fall: minimax {mm:+.1f} [{minimax.min():+.1f}, {minimax.max():+.1f}]"
                      f", ns {nn:+.1f} [{ns.min():+.1f}, {ns.max():+.1f}] orders of magnitude "
                      f"(negative: it grew); per stage, {per_stage}", verdict)


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
    texts = (f"In the first {EARLY_EPOCHS} epochs D separates real from fake almost perfectly "
             f"(JS lower bound >= {SEPARATED_JS:.3f}, log 2 = 0.693).",
             "ns and minimax trials whose D separated early fail more often than the others.")
    separated = early_separation(inputs.history, inputs.trials)
    n, k = len(separated), int(separated.sum())
    if not n:
        return [Prediction(3, t, "ns and minimax trials", 0, "no such trials") for t in texts]
    low, high = wilson_interval(k, n)
    share = Prediction(3, texts[0], "ns and minimax trials", n, rate_text(k, n),
                       SUPPORTED if low > 0.5 else CONTRADICTED if high < 0.5 else CANNOT_TELL)
    judged = findings.judged(inputs.trials).set_index("trial_id")
    judged = judged.loc[judged.index.intersection(separated.index)]
    failed = judged["failure"] != failures.HEALTHY
    sep = separated.reindex(judged.index).astype(bool)
    groups = [(int(failed[sep].sum()), int(sep.sum())), (int(failed[~sep].sum()), int((~sep).sum()))]
    population = "ns and minimax trials with a class, separated early or not"
    if min(n for _, n in groups) == 0:
        return [share, Prediction(3, texts[1], population, len(judged),
                                  f"no contrast: {groups[0][1]} separated, {groups[1][1]} not")]
    return [share, Prediction(3, texts[1], population, len(judged), "",
                              test=fisher_test(groups[0], groups[1]))]


def fisher_test(a: tuple[int, int], b: tuple[int, int]) -> PairedTest:
    """Fisher's exact test of two independent rates (k, n): effect rate(a) - rate(b)."""
    (ka, na), (kb, nb) = a, b
    table = [[ka, na - ka], [kb, nb - kb]]
    p_greater = stats.fisher_exact(table, alternative="greater").pvalue
    p_less = stats.fisher_exact(table, alternative="less").pvalue
    return PairedTest(na + nb, ka / na - kb / nb, math.nan, math.nan, float(p_greater),
                      float(p_less), "Fisher exact",
                      f"separated {rate_text(ka, na)}; not {rate_text(kb, nb)}")


def _is(cls: str) -> Callable[[pd.Series], pd.Series]:
    return lambda failure: failure == cls


def _failed(failure: pd.Series) -> pd.Series:
    return failure != failures.HEALTHY


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
        *_separation(inputs),
        _paired_rate(inputs, 3, "wgan-gp fails less often than ns at the same points.",
                     "wgan-gp", "ns", _failed, "any failure", "less"),
        _paired_rate(inputs, 3, "wgan-gp fails less often than minimax at the same points.",
                     "wgan-gp", "minimax", _failed, "any failure", "less"),
    ]


def _test_text(test: PairedTest, p_for: float, adjusted: float) -> str:
    interval = "" if math.isnan(test.low) else f" (95% CI {test.low:+.2f} to {test.high:+.2f})"
    detail = f"; {test.detail}" if test.detail else ""
    return (f"difference {test.effect:+.2f}{interval}{detail}; {test.test}, one-sided p "
            f"{p_for:.2g}, Holm-adjusted {adjusted:.2g}")


def decide(preds: list[Prediction]) -> list[Prediction]:
    """Verdicts for the tested predictions, by :data:`RULE` (Holm over all tests)."""
    tested = [i for i, p in enumerate(preds) if p.test is not None]
    decisive = [min(preds[i].test.p_greater, preds[i].test.p_less) for i in tested]
    adjusted = dict(zip(tested, holm(decisive)))
    out = list(preds)
    for i in tested:
        pred, test = preds[i], preds[i].test
        p_for, p_against = ((test.p_less, test.p_greater) if pred.expect in ("less",)
                            else (test.p_greater, test.p_less))
        significant = adjusted[i] < ALPHA
        if pred.expect == "not_less":
            verdict = (CONTRADICTED if significant and p_against < p_for else
                       SUPPORTED if test.low > -MARGIN else CANNOT_TELL)
        else:
            verdict = (CANNOT_TELL if not significant else
                       SUPPORTED if p_for < p_against else CONTRADICTED)
        out[i] = replace(pred, verdict=verdict, measured=_test_text(test, p_for, adjusted[i]))
    return out


def claim_verdict(verdicts: list[str]) -> str:
    """Contradicted if any prediction is, supported if all are, else the data cannot tell."""
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return SUPPORTED if verdicts and all(v == SUPPORTED for v in verdicts) else CANNOT_TELL


PAIRED_COMMAND = ("python -m study.run --design atlas --paired --num-samples 100 "
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
               "verdict": claim_verdict([p.verdict for _, p in mine])}
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
