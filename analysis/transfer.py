"""Does a failure map transfer between networks? Two atlas studies of the same Sobol points and
training seeds (the same ``--seed`` and space), trained as two networks, paired point by point.

    python -m analysis.transfer results/transfer-mlp results/transfer-dcgan --out results/transfer

writes ``transfer.md`` (the paired table, class agreement with its 95% interval, each network's
failure rate with its no-verdict count and bounds), ``transfer.csv`` and ``transfer_map.png``
(both networks' classes on lr x b1, with the points where they disagree ringed).

Agreement is the share of points whose two runs got the same census class: over every point,
and over the points where both runs have a verdict (a run not diverse yet has none).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.findings import design_trials
from analysis.load import load_study
from analysis.plots import PALETTE
from analysis.stats.intervals import rate_text, verdict_rate_text
from analysis.stats.paired import cell, rate_test
from gan.census import census
from gan.cli_common import HelpFormatter, OneLineParser, fail, setup_logging
from gan.census.failures import FAILURES, class_label
from gan.records.history import StudyLoadError

log = logging.getLogger("analysis.transfer")
PROG = "python -m analysis.transfer"
POINT_KEYS = ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps")


def network_trials(study_dir: Path) -> tuple[str, pd.DataFrame]:
    """(the study's network, one classified row per design trial with its training seed).

    Raises:
        StudyLoadError: when the folder is not a readable study.
    """
    # A study trains one network (its run record's); the history carries each trial's seed.
    data = load_study(study_dir)
    max_epochs = data.max_epochs or int(data.history["epoch"].max())
    return data.model, design_trials(census.classify_study(data.history, max_epochs,
                                                           data.grad_logs))


def pair_points(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str]) -> pd.DataFrame:
    """One row per point trained by both: its parameters, and each network's class, samples'
    outcome and final fcd (columns suffixed with the network's name).

    Raises:
        ValueError: when the two studies share no point, or a shared point trained from two
            seeds (they were not run with the same --seed).
    """
    keys = [k for k in POINT_KEYS if k in a and k in b]
    cols = [*keys, "seed", "failure", "outcome", "fcd", "epochs"]
    left, right = (t[[c for c in cols if c in t]].copy() for t in (a, b))
    for frame in (left, right):
        frame["latent_dim"] = frame["latent_dim"].astype(int)
        for key in ("lr", "b1", "b2", "bn_eps"):
            if key in frame:
                frame[key] = frame[key].astype(float).round(12)
    pairs = left.merge(right, on=keys, suffixes=tuple(f"_{n}" for n in names))
    if pairs.empty:
        raise ValueError("the two studies share no point: run both with the same --seed, "
                         "--design atlas and space")
    mismatched = pairs[pairs[f"seed_{names[0]}"] != pairs[f"seed_{names[1]}"]]
    if len(mismatched):
        raise ValueError(f"{len(mismatched)} shared point(s) trained from different seeds")
    return pairs


def both_judged(pairs: pd.DataFrame, names: tuple[str, str]) -> pd.DataFrame:
    """The points where both networks' runs have a verdict."""
    return census.with_verdict(census.with_verdict(pairs, f"failure_{names[0]}"),
                               f"failure_{names[1]}")


def agreement(pairs: pd.DataFrame, names: tuple[str, str]) -> dict[str, object]:
    """Class agreement over all points and over the points where both runs have a verdict,
    each as ``(k, n)``, and the disagreeing points' class pairs with their counts."""
    a, b = (pairs[f"failure_{n}"] for n in names)
    judged = both_judged(pairs, names).index
    same = a == b
    moves = (pairs[~same].groupby([f"failure_{names[0]}", f"failure_{names[1]}"]).size()
             .sort_values(ascending=False))
    return {"all": (int(same.sum()), len(pairs)),
            "judged": (int(same.loc[judged].sum()), len(judged)),
            "moves": [(x, y, int(k)) for (x, y), k in moves.items()]}


def rate_lines(pairs: pd.DataFrame, names: tuple[str, str]) -> list[str]:
    """Each network's failure rate on the paired points, with its no-verdict count and
    bounds, and the class counts."""
    out = []
    for name in names:
        column = f"failure_{name}"
        judged = census.with_verdict(pairs, column)
        failed = int(judged[column].isin(FAILURES).sum())
        counts = pairs[column].value_counts()
        classes = ", ".join(f"{class_label(c)} {k}" for c, k in counts.items())
        out.append(f"{name}: failed {verdict_rate_text(failed, len(judged), census.no_verdict_counts(pairs, column))}"
                   f" ({classes})")
    return out


def paired_failure(pairs: pd.DataFrame, names: tuple[str, str]) -> str:
    """Failure, point by point, at the points where both runs have a verdict: McNemar's exact
    test on the points where only one network failed (two-sided), with the rate difference
    and its bootstrap interval."""
    judged = both_judged(pairs, names)
    a, b = (judged[f"failure_{n}"].isin(FAILURES).to_numpy() for n in names)
    test = rate_test(a, b)
    if not test.n:
        return "no point where both runs have a verdict"
    short = f"; {test.short}" if test.short else ""
    return (f"failed as {names[0]} minus failed as {names[1]}, at the points where both have "
            f"a verdict: {cell(test)} ({test.detail}, {test.test}, two-sided{short})")


def transfer_map(pairs: pd.DataFrame, names: tuple[str, str]) -> Figure:
    """Both networks' classes over lr (log) x b1, one panel each, on shared axes; the points
    where the classes differ are ringed in both panels."""
    fig = Figure(figsize=(9.5, 4.0))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    differ = pairs[pairs[f"failure_{names[0]}"] != pairs[f"failure_{names[1]}"]]
    for ax, name in zip(axes, names):
        sns.scatterplot(data=pairs, x="lr", y="b1", hue=f"failure_{name}", palette=PALETTE,
                        s=55, ax=ax, legend=False)
        ax.scatter(differ["lr"], differ["b1"], s=190, facecolors="none", edgecolors="black",
                   linewidths=1.0)
        ax.set_xscale("log")
        ax.set_title(f"{name} (n={len(pairs)})")
        ax.set_xlabel("learning rate")
    seen = [c for c in PALETTE if np.any(pairs[[f"failure_{n}" for n in names]].to_numpy() == c)]
    handles = [axes[1].scatter([], [], color=PALETTE[c], label=class_label(c)) for c in seen]
    handles.append(axes[1].scatter([], [], s=120, facecolors="none", edgecolors="black",
                                   label="classes differ"))
    axes[1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    fig.suptitle(f"Failure class over lr x b1: {names[0]} and {names[1]} at the same points "
                 "and seeds")
    fig.tight_layout()
    return fig


def transfer_markdown(pairs: pd.DataFrame, names: tuple[str, str]) -> str:
    """The transfer's findings and its paired table, as markdown."""
    agree = agreement(pairs, names)
    (k, n), (kj, nj) = agree["all"], agree["judged"]
    moves = "; ".join(f"{class_label(x)} as {names[0]} but {class_label(y)} as {names[1]}: "
                      f"{c}" for x, y, c in agree["moves"]) or "none"
    lines = [f"# Does the failure map transfer? {names[0]} against {names[1]}", "",
             f"{n} points, each trained as both networks from the same seed.", "",
             f"- Same class: {rate_text(k, n)} of all points; {rate_text(kj, nj)} of the points "
             "where both runs have a verdict.",
             f"- Where they differ: {moves}.",
             *[f"- {line}." for line in rate_lines(pairs, names)],
             f"- Paired: {paired_failure(pairs, names)}.", "",
             "![classes on lr x b1](transfer_map.png)", ""]
    cols = ["lr", "b1", "latent_dim", "bn_eps", *[f"{c}_{n}" for c in ("failure", "fcd")
                                                  for n in names]]
    table = pairs[[c for c in cols if c in pairs]].sort_values("lr")
    lines.append(table.to_markdown(index=False, floatfmt=".3g"))
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = OneLineParser(prog=PROG, description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("studies", nargs=2, type=Path, metavar="STUDY",
                        help="two study folders of the same points, one network each")
    parser.add_argument("--out", type=Path, default=Path("results/transfer"),
                        help="folder for transfer.md, transfer.csv and transfer_map.png")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        (name_a, a), (name_b, b) = (network_trials(s) for s in args.studies)
        if name_a == name_b:
            raise ValueError(f"both studies trained {name_a!r}: a transfer needs two networks")
        names = (name_a, name_b)
        pairs = pair_points(a, b, names)
    except (StudyLoadError, ValueError, OSError, KeyError) as err:
        return fail(PROG, str(err))
    args.out.mkdir(parents=True, exist_ok=True)
    pairs.to_csv(args.out / "transfer.csv", index=False)
    transfer_map(pairs, names).savefig(args.out / "transfer_map.png", dpi=110)
    (args.out / "transfer.md").write_text(transfer_markdown(pairs, names))
    log.info("wrote %s", args.out / "transfer.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
