"""Each design's report speaks of its own trials and sampler only: a synthetic search and a
synthetic atlas (written before atlas trials were named so: phase "search") give reports whose
vocabularies do not cross, and the atlas compares lr and latent sizes within each loss."""

import re

import numpy as np
import pandas as pd
import pytest

from analysis.report import build_report
from gan.records import layout
from gan.config import GANConfig
from gan.records.run_record import RunRecord, StudySettings
from synthetic_study import EPOCHS, histories

LOSSES = ("ns", "wgan-gp")
SEARCH_ONLY = (r"\bsearch\b", r"\bTPE\b")
ATLAS_ONLY = (r"\batlas\b", r"\bSobol\b", r"within each loss")
POOLED = "Failure rate by lr tercile of the judged"


def _study(folder, design: str):
    """Nine trials per loss (every class, lr spread over two decades), all as 'search'."""
    frames = []
    classes = list(histories().values())
    for li, loss in enumerate(LOSSES if design == "atlas" else ("ns",)):
        for i in range(9):
            frame = classes[i % len(classes)].copy()
            frame["trial_id"] = f"{loss[:2]}{i}"
            frame["lr"] = 10 ** (-4 + 2 * i / 8)
            frame["latent_dim"] = (16, 100, 256)[i % 3]
            frame["loss"], frame["bn_eps"] = loss, (0.8, 1e-5)[i % 2]
            frames.append(frame)
    history = pd.concat(frames, ignore_index=True)
    history.loc[history["status"] == "diverged", ["fcd", "diversity"]] = np.nan
    folder.mkdir(parents=True)
    history.to_parquet(folder / layout.HISTORY_PARQUET, index=False)
    settings = StudySettings(study_dir=folder, num_samples=len(frames), objective="fcd",
                             mode="min", space="default",
                             scheduler="fifo" if design == "atlas" else "asha", grace_period=3,
                             reduction_factor=3.0, cpus_per_trial=1.0, gpus_per_trial=0.0,
                             max_concurrent=0, seed=0, checkpoint_interval=10, address=None,
                             design=design)
    RunRecord(GANConfig(n_epochs=EPOCHS), settings).save(argv=[])
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("designs")
    out = {}
    for design in ("search", "atlas"):
        study = _study(root / design, design)
        out[design] = (build_report(study, probe_iterations=0)[1].read_text(),
                       pd.read_csv(study / layout.REPORT_DIR / "trials.csv"))
    return out


def test_atlas_report_has_no_search_vocabulary(reports):
    md, trials = reports["atlas"]
    assert set(trials["phase"]) == {layout.PHASE_ATLAS}  # an old 'search' label, read right
    for pattern in SEARCH_ONLY:
        assert not re.search(pattern, md), pattern
    assert POOLED not in md  # lr and latent comparisons are made within each loss
    assert "Failure rate by lr tercile within each loss" in md
    assert "stopped early by the scheduler" not in md


def test_search_report_has_no_atlas_vocabulary(reports):
    md, trials = reports["search"]
    assert set(trials["phase"]) == {layout.PHASE_SEARCH}
    # The one line that names the design which tests what a search cannot may say "atlas".
    md = "\n".join(line for line in md.splitlines()
                   if not line.startswith("Not tested by this design"))
    for pattern in ATLAS_ONLY:
        assert not re.search(pattern, md), pattern
    assert POOLED in md and "TPE chose" in md  # the sampler that made the groups uneven


def test_lr_bins_are_positive_and_importances_carry_their_n(reports):
    for design in ("search", "atlas"):
        md, _ = reports[design]
        assert "Parameter importances (fANOVA): fcd from" in md
    from analysis.sections.landscape import failure_rate_vs_lr

    trials = pd.DataFrame({"lr": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2], "failure":
                           ["healthy", "mode_collapse"] * 3})
    labels = [t.get_text() for t in failure_rate_vs_lr(trials).axes[0].get_xticklabels()]
    assert labels and not any(label.startswith("-") for label in labels)
    assert labels[0].startswith("1e-05")
    # A bin's no-verdict trials are counted on its label and drawn as its bounds.
    slow = trials.assign(failure=["not_diverse_yet", "mode_collapse"] * 3)
    labels = [t.get_text() for t in failure_rate_vs_lr(slow).axes[0].get_xticklabels()]
    assert labels[0].endswith("(n=1, +1 no verdict)")  # 1e-5 not diverse yet, 3e-5 collapse


def test_each_report_answers_first_and_folds_what_it_cannot_test(reports):
    for design in ("search", "atlas"):
        md, _ = reports[design]
        sections = re.findall(r"^## (.*)$", md, flags=re.M)
        assert sections[0] == "Summary", (design, sections[:3])
    search, _ = reports["search"]
    assert "not tested: this design" not in search  # no row of untested predictions
    folded = [line for line in search.splitlines() if line.startswith("Not tested by this design")]
    assert len(folded) == 1 and "--design atlas --paired" in folded[0]
    assert "Of the 9 search trials that ran all" in search.split("## Claims")[0]
    assert "![lr_b1.png](lr_b1.png)" in search.split("## Claims")[0]


def test_no_empty_chart_and_thresholds_in_plain_words(reports):
    search, trials = reports["search"]
    if not (trials["failure"] == "vanishing_gradients").any():
        assert "vanishing_trials.png" not in search
    assert "| COLLAPSE_PEAK" in search and "diversity a trial must first reach" in search
