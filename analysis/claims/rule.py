"""The claims table's verdict rule: how a measured prediction becomes supported, contradicted
or "the data cannot tell", at a family-wise error of at most ALPHA.

Every p-value prediction is tested two-sided and all the table's p-values are Holm-adjusted
together; a "no less" prediction adds its non-inferiority p-value to the family. The rule is
checked on simulated tables where the truth is known (tests/test_claims_error.py). What is
measured, and on which trials, is :mod:`analysis.claims.table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from analysis.stats.paired import PairedTest, two_sided
from gan.census import failures

SUPPORTED, CONTRADICTED, CANNOT_TELL = "supported", "contradicted", "the data cannot tell"
ALPHA = 0.05
MARGIN = 0.10  # "no less often": the non-inferiority margin of a paired rate difference
EARLY_EPOCHS = 3  # "in the first epochs"
# D separates almost perfectly: d_loss at or below the census's D-wins threshold, i.e. the
# JS lower bound log 2 - d_loss within D_WINS_LOSS of log 2.
SEPARATED_JS = math.log(2) - failures.D_WINS_LOSS
PROBE_VANISHED = 2.0  # orders of magnitude minimax's probe gradient must fall
PROBE_STEADY = 1.0  # ... while ns's falls by less than this
RULE = (f"Each p-value prediction is tested two-sided (twice the smaller one-sided p), and "
        f"every p-value of the table is Holm-adjusted together, so that the chance of any "
        f"wrong verdict among them is at most {ALPHA:.0%}. Supported: adjusted p < {ALPHA} "
        f"with the effect in the predicted direction; contradicted: adjusted p < {ALPHA} "
        f"against it; otherwise the data cannot tell. A test below the evidence it needs "
        f"(six discordant pairs for McNemar, six non-zero differences for Wilcoxon) cannot "
        f"tell. A 'no less' prediction is a non-inferiority test against a margin of "
        f"{MARGIN:.2f}: supported when the exact test of H0 'less by {MARGIN:.2f} or more' has "
        f"adjusted p < {ALPHA} (its p-value joins the Holm family), contradicted when the "
        f"difference is significantly negative. A share is supported (contradicted) when its "
        f"95% Wilson interval lies above (below) one half: a one-sided error of at most about "
        f"2.5% at a true share of one half. The probes' predictions are rules on effect "
        f"sizes, not tests: the gradient probe is supported when minimax's gradient fell by at "
        f"least {PROBE_VANISHED:g} orders of magnitude and ns's by less than {PROBE_STEADY:g}, "
        f"contradicted when minimax's fell by less than {PROBE_STEADY:g}; the separation "
        f"probe is supported when every fresh D, trained to convergence against a G frozen at "
        f"initialisation or within the first {EARLY_EPOCHS} epochs, reaches a JS lower bound "
        f"of at least {SEPARATED_JS:.3f}, contradicted when none does. A claim is "
        f"contradicted when any of its counted predictions is, supported when all are, and "
        f"otherwise the data cannot tell; a secondary row (marked) is shown, not counted.")
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
    secondary: bool = False  # shown beside the claim's evidence, not counted in its verdict


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (Holm 1979); NaN stays NaN and is not counted."""
    order = [i for i in np.argsort(pvalues) if not math.isnan(pvalues[i])]
    adjusted, running = [math.nan] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _test_text(test: PairedTest, adjusted: float, noninferior: float | None) -> str:
    interval = "" if math.isnan(test.low) else f" (95% CI {test.low:+.2f} to {test.high:+.2f})"
    detail = f"; {test.detail}" if test.detail else ""
    text = (f"difference {test.effect:+.2f}{interval}{detail}; {test.test}, two-sided p "
            f"{two_sided(test):.2g}, Holm-adjusted {adjusted:.2g}")
    if noninferior is not None:
        text += (f"; non-inferiority at -{MARGIN:.2f}: exact p {test.p_noninferior:.2g}, "
                 f"Holm-adjusted {noninferior:.2g}")
    return text + (f"; too little evidence: {test.short}" if test.short else "")


def family(preds: list[Prediction]) -> list[tuple[int, str, float]]:
    """Every p-value of the table as (prediction index, role, p): each tested prediction's
    two-sided p ("direction"), and a 'no less' prediction's non-inferiority p beside it."""
    out = []
    for i, pred in enumerate(preds):
        if pred.test is None:
            continue
        out.append((i, "direction", two_sided(pred.test)))
        if pred.expect == "not_less":
            out.append((i, "noninferior", pred.test.p_noninferior))
    return out


def _verdict(pred: Prediction, direction: float, noninferior: float | None) -> str:
    test = pred.test
    seen = "greater" if test.p_greater < test.p_less else "less"
    significant = direction < ALPHA and not test.short
    if pred.expect == "not_less":
        if significant and seen == "less":
            return CONTRADICTED
        return SUPPORTED if noninferior is not None and noninferior < ALPHA else CANNOT_TELL
    if not significant:
        return CANNOT_TELL
    return SUPPORTED if seen == pred.expect else CONTRADICTED


def decide(preds: list[Prediction]) -> list[Prediction]:
    """Verdicts for the tested predictions, by :data:`RULE` (Holm over every p-value)."""
    tests = family(preds)
    adjusted = {(i, role): p for (i, role, _), p in zip(tests, holm([p for *_, p in tests]))}
    out = list(preds)
    for i in {i for i, _, _ in tests}:
        direction, noninferior = adjusted[(i, "direction")], adjusted.get((i, "noninferior"))
        out[i] = replace(preds[i], verdict=_verdict(preds[i], direction, noninferior),
                         measured=_test_text(preds[i].test, direction, noninferior))
    return out


def claim_verdict(verdicts: list[str]) -> str:
    """Contradicted if any prediction is, supported if all are, else the data cannot tell."""
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    return SUPPORTED if verdicts and all(v == SUPPORTED for v in verdicts) else CANNOT_TELL
