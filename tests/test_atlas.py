"""The failure atlas: per-loss rates, remedies, charts, and a tiny real atlas study."""

import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis.atlas import tables as atlas
from analysis.atlas import plots as atlas_plots
from gan.census import failures
from gan.records import layout
from gan.records.history import trial_record
from gan.train.losses import ARMS, LOSSES
from study.search import BalancedSobolSampler
from study.space import atlas_space


def _trials(per_loss: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for loss, classes in per_loss.items():
        for i, cls in enumerate(classes):
            rows.append({"trial_id": f"{loss}{i}", "phase": "search", "loss": loss,
                         "failure": cls, "onset_epoch": 5.0 + i if cls in failures.FAILURES
                         else np.nan, "lr": 10 ** -(2 + i % 3), "b1": 0.1 * (i % 9),
                         "bn_eps": 0.8, "fcd": 100.0 + 10 * i, "epochs": 30})
    return pd.DataFrame(rows)


def test_loss_findings_and_remedies_carry_n_and_intervals():
    trials = _trials({"minimax": [failures.VANISHING] * 9 + [failures.HEALTHY],
                      "wgan-gp": [failures.HEALTHY] * 10, "hinge": [failures.VANISHING] * 5
                      + [failures.HEALTHY] * 5})
    text = atlas.loss_findings(trials)
    assert text[0].startswith("minimax: vanishing gradients 9 of 10 (90%, 95% CI")
    assert "at lr 0.0001–0.01" in text[0] and "from epoch 5–13" in text[0]
    assert text[-1].startswith("wgan-gp: no failure in 10 trials with a verdict (0%, 95% CI 0–28%)")
    remedies = " ".join(atlas.remedy_findings(trials))
    assert "less often under wgan-gp 0/10" in remedies  # 9/10 vs 0/10: intervals separate
    assert "cannot tell for hinge 5/10" in remedies  # 9/10 vs 5/10: they overlap
    table = atlas.loss_table(trials).set_index("loss")
    assert list(table.index) == ["minimax", "hinge", "wgan-gp"]  # gan.train.losses order
    assert table.loc["minimax", failures.VANISHING].startswith("9 (")
    assert table.loc["wgan-gp", "best fcd"] == 100.0


def test_a_trial_not_diverse_yet_is_left_out_of_every_failure_rate():
    """Not diverse yet is no verdict: neither a failure nor a success. Counted in n, it would
    dilute every failure rate of a loss whose runs are slow."""
    trials = _trials({"ns": [failures.MODE_COLLAPSE] * 4 + [failures.NOT_DIVERSE_YET] * 6
                      + [failures.HEALTHY] * 2})
    trials["outcome"] = trials["failure"].map({failures.MODE_COLLAPSE: "collapsed",
                                               failures.HEALTHY: failures.HEALTHY,
                                               failures.NOT_DIVERSE_YET: failures.NOT_DIVERSE_YET})
    (text,) = atlas.loss_findings(trials)
    assert "mode collapse 4 of 6 (67%" in text and "6 of 12 not diverse yet" in text
    assert "failed by its samples 4 of 6 (67%" in text
    row = atlas.loss_table(trials).set_index("loss").loc["ns"]
    assert row["n"] == 12 and row["with a verdict"] == 6
    assert row[failures.MODE_COLLAPSE].startswith("4 (") and row[atlas.ANY_FAILURE].startswith("4 (")
    assert row[failures.NOT_DIVERSE_YET].startswith("6 (")


def test_bn_eps_finding_says_when_the_data_cannot_tell():
    trials = _trials({"ns": [failures.MODE_COLLAPSE] * 10 + [failures.HEALTHY] * 10})
    trials["bn_eps"] = [0.8] * 10 + [1e-5] * 10
    (text,) = atlas.bn_eps_findings(trials)
    assert "within each loss: ns: 10/10 vs 0/10 (differ)" in text
    assert "10 of 10 (100%" in text and "0 of 10 (0%" in text
    assert "intervals separate" in text
    trials["bn_eps"] = [0.8, 1e-5] * 10
    assert "cannot tell" in atlas.bn_eps_findings(trials)[0]


def test_bn_eps_gives_no_pooled_verdict_when_a_loss_sits_on_one_value():
    """Pooled 10/10 vs 0/10 looks decisive, but eps 0.8 holds every failing ns trial and eps
    1e-5 every healthy wgan-gp trial: the loss explains it, so no pooled verdict."""
    trials = _trials({"ns": [failures.MODE_COLLAPSE] * 10, "wgan-gp": [failures.HEALTHY] * 10})
    trials["bn_eps"] = [0.8] * 10 + [1e-5] * 10
    (text,) = atlas.bn_eps_findings(trials)
    assert "no pooled verdict" in text and "differ (95%" not in text
    assert "ns: 10/10 vs 0/0 (one value only)" in text


def test_phase_diagram_has_one_panel_per_loss_on_shared_axes():
    trials = _trials({loss: [failures.HEALTHY, failures.MODE_COLLAPSE] for loss in LOSSES})
    fig = atlas_plots.phase_diagrams(trials)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [f"{loss} (n=2)" for loss in LOSSES]
    assert len({ax.get_xlim() for ax in panels}) == 1 and len({ax.get_ylim() for ax in panels}) == 1


def test_sampler_balances_the_loss_and_is_seeded():
    import optuna

    space = atlas_space("default")

    def params(seed, n=18):
        study = optuna.create_study(sampler=BalancedSobolSampler(space, "loss", seed=seed))
        for _ in range(n):
            study.tell(study.ask(fixed_distributions=space), 0.0)
        return [t.params for t in study.trials]

    first = params(0)
    assert pd.Series([p["loss"] for p in first]).value_counts().to_dict() == \
        {arm: 3 for arm in ARMS}
    assert first == params(0) and first != params(1)
    assert {"lr", "b1", "latent_dim", "loss", "bn_eps"} == set(first[0])


def test_paired_sampler_runs_each_point_under_every_loss():
    import optuna

    losses = ("ns", "minimax", "wgan-gp")
    space = atlas_space("default", losses)
    study = optuna.create_study(sampler=BalancedSobolSampler(space, "loss", seed=0, paired=True))
    for _ in range(9):
        study.tell(study.ask(fixed_distributions=space), 0.0)
    points = [{k: v for k, v in t.params.items() if k != "loss"} for t in study.trials]
    assert [t.params["loss"] for t in study.trials] == list(losses) * 3
    for k in range(3):  # one point per three trials, three distinct points
        assert points[3 * k] == points[3 * k + 1] == points[3 * k + 2]
    assert len({tuple(sorted(p.items())) for p in points}) == 3


def test_paired_seed_leaves_the_loss_out():
    from gan.config import GANConfig
    from study.space import trial_config

    point = {"lr": 1e-3, "b1": 0.5, "latent_dim": 8, "bn_eps": 0.8}
    configs = {arm: trial_config(GANConfig(), {**point, "loss": arm}, 0, paired=True)
               for arm in ARMS}
    assert len({c.seed for c in configs.values()}) == 1
    unpaired = {trial_config(GANConfig(), {**point, "loss": arm}, 0).seed for arm in ARMS}
    assert len(unpaired) == len(ARMS)
    # The losses differ in the loss alone; the recipe arm from wgan-gp in its recipe alone.
    assert {c.loss for c in configs.values()} == set(LOSSES)
    for loss in LOSSES:
        assert dataclasses.replace(configs[loss], loss="ns") == configs["ns"]
    recipe = configs["wgan-gp-recipe"]
    assert (recipe.loss, recipe.b1, recipe.b2, recipe.n_critic) == ("wgan-gp", 0.5, 0.9, 5)
    assert dataclasses.replace(recipe, b2=0.999, n_critic=1) == configs["wgan-gp"]
    with pytest.raises(ValueError, match="gan"):
        atlas_space("default", ("ns", "gan"))


@pytest.mark.slow
def test_tiny_paired_atlas_runs_every_loss_at_each_point_and_reports_claims(tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "study.run", "--design", "atlas", "--paired", "--num-samples", "12",
         "--max-epochs", "3", "--dataset", "embedded", "--eval-samples", "300",
         "--probe-iterations", "0", "--results-dir", str(results), "--name", "atlas"],
        env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    study = results / "atlas"
    history = pd.read_parquet(study / layout.HISTORY_PARQUET)
    per_trial = history.groupby("trial_id").agg(
        epochs=("epoch", "max"), loss=("loss", "first"), seed=("seed", "first"),
        lr=("lr", "first"), b1=("b1", "first"), latent_dim=("latent_dim", "first"))
    assert len(per_trial) == 12 and (per_trial["epochs"] == 3).all()  # FIFO: nobody cut short
    # Two points, each under all six arms from one seed, at one (lr, b1, latent size).
    assert per_trial["seed"].nunique() == 2
    for _, point in per_trial.groupby("seed"):
        assert sorted(point["loss"]) == sorted(ARMS)
        assert point[["lr", "b1", "latent_dim"]].nunique().max() == 1
    # What each trial trained: at a point, every setting but the loss is shared; the recipe
    # arm differs from wgan-gp in its recipe alone (b2 0.9, 5 critic steps).
    trained = [trial_record(folder) for folder in layout.trial_dirs(study).values()]
    for seed in {r["config"]["seed"] for r in trained}:
        arms = {r["params"]["loss"]: r["config"] for r in trained if r["config"]["seed"] == seed}
        loss_alone = [{**c, "loss": None} for arm, c in arms.items() if arm in LOSSES]
        assert all(c == loss_alone[0] for c in loss_alone) and len(loss_alone) == 5
        recipe = {**arms["wgan-gp-recipe"], "b2": arms["ns"]["b2"], "n_critic": 1}
        assert recipe == arms["wgan-gp"]
        assert (arms["wgan-gp-recipe"]["b2"], arms["wgan-gp-recipe"]["n_critic"]) == (0.9, 5)
    assert set(history["phase"]) == {layout.PHASE_ATLAS}  # no race or control runs

    import optuna

    ot = optuna.load_study(study_name="atlas", storage=f"sqlite:///{study / layout.OPTUNA_DB}")
    assert [t.state.name for t in ot.trials] == ["COMPLETE"] * 12

    report = (study / layout.REPORT_DIR / "report.md").read_text()
    assert "Design: atlas (paired" in report and "atlas_phase_diagrams.png" in report
    # The claims table comes first, and its paired rows are tested on the two points.
    assert report.index("## Claims about the vanilla GAN") < report.index("## Findings")
    claims_part = report.split("## Claims about the vanilla GAN")[1].split("## Findings")[0]
    assert "McNemar exact" in claims_part and "not tested" not in claims_part
    assert (study / layout.REPORT_DIR / "atlas_phase_diagrams.png").is_file()
    table = report.split("## Failure rates per loss")[1].split("\n## ")[0]
    for arm in ARMS:
        assert f"| {arm} " in table and f"{arm}: " in report
    assert "wgan-gp-recipe | wgan-gp" in report  # the recipe effect, beside the loss effect
    trials = pd.read_csv(study / layout.REPORT_DIR / "trials.csv")
    assert (trials["failure"] != failures.UNDETERMINED).all()
    assert set(trials["phase"]) == {layout.PHASE_ATLAS}
    # Every sentence is the atlas's: no search population, no TPE, no pooled lr comparison.
    assert not re.search(r"\bsearch\b|\bTPE\b", report)
    assert "Failure rate by lr tercile of the judged" not in report
