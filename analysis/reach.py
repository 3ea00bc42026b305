"""The budget's reach: what a class or a rank after a short budget says about a long one.

A trial's first ``at`` epochs are the run it would have been at a budget of ``at`` epochs (the
loop does not read the budget, and the same seeds draw the same batches), so one long study
answers both: each trial is classified on its first ``at`` epochs as if that were its full
budget, and again on all of them. The section reports how often the two classes agree, the
rank correlation of the ranking signal at both budgets, and which classes appear only later,
each with its n and a 95% interval. Its numbers, sentences and chart live here.

``python -m analysis.reach results/<a long study> --at 30`` prints them.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from scipy import stats

from analysis.findings import proposal_trials
from analysis.load import load_study
from gan.records.history import StudyLoadError
from analysis.stats.intervals import rate_text
from gan.census import failures
from gan.census.census import classify_study, with_verdict
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.config import CPU_STUDY_EPOCHS, GANConfig
from gan.census.ranking import trailing_mean

PROG = "python -m analysis.reach"
DEFAULT_AT = CPU_STUDY_EPOCHS  # the short budget: a study's default on a CPU
MNIST_TRAIN = 60_000  # gan.py's training set: the full MNIST training split
TITLE = "The budget's reach: each trial's class at the short budget against at its end"


def budget_sentence(history: pd.DataFrame, max_epochs: int) -> str:
    """What the study's budget is, set against gan.py's, and what it can and cannot tell."""
    steps = history.dropna(subset=["step"]) if "step" in history else history.iloc[:0]
    per_epoch = int(round((steps["step"] / steps["epoch"]).median())) if len(steps) else 0
    gan_py = GANConfig()
    theirs = gan_py.n_epochs * math.ceil(MNIST_TRAIN / gan_py.batch_size)
    ours = per_epoch * max_epochs
    share = (f"{ours:,} generator steps ({per_epoch} per epoch), 1/{theirs / ours:.0f} of "
             f"gan.py's {gan_py.n_epochs} epochs on {MNIST_TRAIN:,} digits ({theirs:,} steps)"
             if ours else f"{max_epochs} epochs")
    return (f"Budget: {max_epochs} epochs per trial, {share}. A class here is what a trial "
            f"looked like after {max_epochs} epochs: it cannot tell a failure that sets in "
            "later, and a run still climbing ends \"not diverse yet\", without a verdict; how "
            "often a 30-epoch class holds at 200 epochs is measured in docs/findings.md "
            f"({PROG}).")


def reach_table(history: pd.DataFrame, trials: pd.DataFrame, at: int, max_epochs: int,
                grad_logs: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per proposed trial that trained past ``at`` epochs or ended for good before
    (a divergence or a conclusive stop): its class and ranking signal (the objective metric's
    trailing mean, fcd here) at ``at`` and at its end. Both classes read the same signals:
    the epochs up to each budget and the trial's logged steps up to it.

    Raises:
        ValueError: when ``at`` is not below ``max_epochs``.
    """
    if not 0 < at < max_epochs:
        raise ValueError(f"--at must be between 1 and the study's {max_epochs - 1} epochs, "
                         f"got {at}")
    own = proposal_trials(trials)
    ended = own["epochs"] >= max_epochs
    if "stopped_for_failure" in own:
        ended |= own["stopped_for_failure"].astype(bool)
    ended |= own["failure"] == failures.DIVERGED
    rows = []
    for _, row in own[ended].iterrows():
        trial = history[history["trial_id"] == row["trial_id"]].sort_values("epoch")
        early = trial[trial["epoch"] <= at]
        steps = (grad_logs or {}).get(row["trial_id"])
        early_steps = steps[steps["epoch"] <= at] if steps is not None and "epoch" in steps \
            else None
        short, _ = failures.classify_trial(early, steps=early_steps)  # ``at`` as its budget
        end, _ = failures.classify_trial(trial, full_budget=int(trial["epoch"].max())
                                         >= max_epochs, steps=steps)
        rows.append({"trial_id": row["trial_id"], "phase": row.get("phase"),
                     "lr": row.get("lr"), "b1": row.get("b1"),
                     "class_at": short if int(early["epoch"].max()) >= at
                     or short in failures.FAILURES else failures.UNDETERMINED,
                     "class_end": end,
                     "fcd_at": trailing_mean(early["fcd"]) if "fcd" in early else math.nan,
                     "fcd_end": trailing_mean(trial["fcd"]) if "fcd" in trial else math.nan})
    return pd.DataFrame(rows)


def spearman_interval(x: pd.Series, y: pd.Series) -> tuple[float, float, float, int]:
    """(rho, low, high, n): Spearman's rho with a 95% interval by Fisher's z and Bonett &
    Wright's (2000) standard error sqrt((1 + rho^2 / 2) / (n - 3)); NaNs below 4 pairs."""
    keep = x.notna() & y.notna()
    n = int(keep.sum())
    if n < 4:
        return math.nan, math.nan, math.nan, n
    rho = float(stats.spearmanr(x[keep], y[keep]).statistic)
    if not math.isfinite(rho) or abs(rho) >= 1:
        return rho, rho, rho, n
    se = math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    z = math.atanh(rho)
    return rho, math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se), n


def reach_findings(table: pd.DataFrame, at: int, max_epochs: int) -> list[str]:
    """Agreement of the classes, the rank correlation, and the classes that appear later."""
    if table.empty:
        return [f"No trial ran past {at} epochs: the budget's reach cannot be measured here."]
    same = int((table["class_at"] == table["class_end"]).sum())
    rho, low, high, n = spearman_interval(table["fcd_at"], table["fcd_end"])
    corr = (f"the fcd ranking signal at epoch {at} and at {max_epochs} rank-correlate with "
            f"Spearman rho {rho:.2f} (95% CI {low:.2f}–{high:.2f}, n {n})"
            if math.isfinite(rho) else f"too few scored trials ({n}) for a rank correlation")
    moved = table[table["class_at"] != table["class_end"]]
    changes = moved.groupby(["class_at", "class_end"]).size().sort_values(ascending=False)
    later = "; ".join(f"{failures.class_label(a)} at {at} became {failures.class_label(b)} "
                      f"{k}" for (a, b), k in changes.items()) or "none"
    collapsed = table[table["class_at"] == failures.MODE_COLLAPSE]
    revived = collapsed[collapsed["class_end"] == failures.HEALTHY]
    both = with_verdict(with_verdict(table, "class_at"), "class_end")
    agree = int((both["class_at"] == both["class_end"]).sum())
    failed_at = table[table["class_at"].isin(failures.FAILURES)]
    still = int(failed_at["class_end"].isin(failures.FAILURES).sum())
    kept = int((failed_at["class_at"] == failed_at["class_end"]).sum())
    slow = table[table["class_at"] == failures.NOT_DIVERSE_YET]
    fates = ", ".join(f"{int(k)} {failures.class_label(c)}"
                      for c, k in slow["class_end"].value_counts().items())
    out = [f"Budget's reach ({len(table)} trials trained {max_epochs} epochs, each classified "
           f"on its first {at} epochs and on all {max_epochs}, from the same signals): the "
           f"class at epoch {at} held at {max_epochs} in {rate_text(same, len(table))} of all "
           "pairs (no verdict at both counted as agreeing), and in "
           + (rate_text(agree, len(both)) if len(both) else "none")
           + " of the pairs with a verdict at both; a failure verdict at epoch "
           f"{at} was still a failure at {max_epochs} in "
           + (f"{rate_text(still, len(failed_at))} (the same class in {kept})"
              if len(failed_at) else f"none (no failure at epoch {at})")
           + f"; {corr}.",
           f"Classes that changed after epoch {at}: {later}."]
    if len(slow):
        resolved = with_verdict(slow, "class_end")
        collapsed_later = int((resolved["class_end"] == failures.MODE_COLLAPSE).sum())
        out.append(f"Not diverse yet at epoch {at} is no verdict, and the long run says why: of "
                   f"its {len(slow)} trials, at epoch {max_epochs}: {fates}; of the "
                   f"{len(resolved)} that reached a verdict, mode collapse in "
                   + (rate_text(collapsed_later, len(resolved)) if len(resolved) else "none")
                   + ".")
    if len(collapsed):
        out.append(f"Of the {len(collapsed)} trials named mode collapse at epoch {at}, "
                   f"{rate_text(len(revived), len(collapsed))} were healthy at {max_epochs}.")
    return out


def transitions_chart(table: pd.DataFrame, at: int, max_epochs: int) -> Figure:
    """Counts of (class at ``at``, class at the end) as a heatmap; the diagonal agrees."""
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    order = [c for c in failures.CLASSES if c in set(table["class_at"]) | set(table["class_end"])]
    counts = pd.crosstab(table["class_at"], table["class_end"]).reindex(
        index=order, columns=order, fill_value=0)
    labels = [failures.class_label(c) for c in order]
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax,
                xticklabels=labels, yticklabels=labels)
    ax.set_xlabel(f"class at epoch {max_epochs}")
    ax.set_ylabel(f"class at epoch {at}")
    ax.set_title(f"{len(table)} trials: the diagonal kept its class", fontsize=10)
    fig.tight_layout()
    return fig


def reach_section(rep, data, trials: pd.DataFrame, max_epochs: int, at: int = DEFAULT_AT
                  ) -> None:
    """For a study whose budget is at least twice ``at``: the reach, measured on itself."""
    if max_epochs < 2 * at:
        return
    table = reach_table(data.history, trials, at, max_epochs, data.grad_logs)
    lines = reach_findings(table, at, max_epochs)
    rep.facts += lines
    rep.summarize(lines=lines[:1])
    if len(table):
        rep.sections.append((TITLE, [rep.save(transitions_chart(table, at, max_epochs),
                                              "reach_transitions")], lines[1:]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__,
                      formatter_class=HelpFormatter,
                      epilog="example: python -m analysis.reach results/survey200 --at 30")
    p.add_argument("study_dir", type=Path, help="a study folder (results/<name>)")
    p.add_argument("--at", type=int, default=DEFAULT_AT,
                   help=f"the short budget, in epochs (default {DEFAULT_AT})")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        data = load_study(args.study_dir)
        max_epochs = data.max_epochs or int(data.history["epoch"].max())
        trials = classify_study(data.history, max_epochs, data.grad_logs)
        table = reach_table(data.history, trials, args.at, max_epochs, data.grad_logs)
    except (StudyLoadError, ValueError) as err:
        return fail(PROG, str(err))
    print("\n".join(reach_findings(table, args.at, max_epochs)))
    print(table.to_markdown(index=False, floatfmt=".4g"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
