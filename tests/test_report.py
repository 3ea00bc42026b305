import re
import subprocess
import sys

from analysis.report import build_report, main
from synthetic_study import write_study


def test_report_on_synthetic_study_every_image_exists(tmp_path):
    study = tmp_path / "synthetic-study"
    write_study(study)
    html_path, md_path = build_report(study, probe_iterations=0)
    md = md_path.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(images) >= 6
    assert all((md_path.parent / img).is_file() for img in images)
    for cls in ("vanishing gradients", "mode collapse", "discriminator wins", "diverged"):
        assert cls in md
    html = html_path.read_text()
    assert "http://" not in html and "https://" not in html  # opens offline
    assert html.count("data:image/png;base64,") == len(images)


def test_corrupt_or_missing_study_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "history.parquet").write_text("garbage")
    assert main([str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "bad" in err[-1]
    assert not (bad / "report").exists()


def test_report_cli_subprocess(tmp_path):
    study = tmp_path / "s"
    write_study(study)
    proc = subprocess.run([sys.executable, "-m", "analysis.report", str(study),
                           "--probe-iterations", "0"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (study / "report" / "report.html").is_file()


def test_history_rebuilt_from_trial_folders_skipping_corrupt_ones(tmp_path, caplog):
    import json

    from analysis.load import load_study
    from gan.records import layout
    from synthetic_study import histories

    study = tmp_path / "interrupted"
    for frame in list(histories().values())[:3]:
        trial_id = frame["trial_id"][0]
        trial_dir = study / layout.RAY_DIR / layout.trial_dirname(trial_id)
        trial_dir.mkdir(parents=True)
        (trial_dir / layout.TRIAL_FILE).write_text(json.dumps(
            {"trial_id": trial_id, "phase": "search", "params": {"lr": float(frame["lr"][0])},
             "config": {"lr": float(frame["lr"][0]), "b1": 0.5, "seed": 7}}))
        frame.drop(columns=["trial_id", "lr"]).to_csv(trial_dir / layout.METRICS_FILE,
                                                     index=False)
    broken = study / layout.RAY_DIR / layout.trial_dirname("ffff")
    broken.mkdir()
    (broken / layout.TRIAL_FILE).write_text("{not json")
    with caplog.at_level("WARNING"):
        data = load_study(study)
    assert sorted(data.trial_ids) == ["a1", "b2", "c3"]
    assert layout.trial_dirname("ffff") in caplog.text
    assert (data.history["seed"] == 7).all() and (data.history["d_lr_ratio"] == 1.0).all()


def test_findings_compare_generator_losses():
    import pandas as pd

    from analysis.findings import gradient_change_by_loss
    from synthetic_study import histories

    h = histories()
    history = pd.concat([h["healthy"].assign(loss="ns"),
                         h["vanishing_gradients"].assign(loss="minimax")], ignore_index=True)
    facts = gradient_change_by_loss(history)
    # b2's generator gradient fell from 1 to 1e-4: four orders of magnitude by epoch 8.
    assert "minimax trials changed generator gradient by +4.0 orders" in facts
    assert "ns trials changed generator gradient by +0.0 orders" in facts


def test_findings_name_populations_and_intervals():
    import pandas as pd

    from gan.census.census import classify_study
    from analysis.findings import census
    from analysis.sections.landscape import findings as landscape
    from synthetic_study import histories

    h = histories()
    short = h["healthy"][h["healthy"]["epoch"] <= 3].assign(trial_id="short")
    table = classify_study(pd.concat([*h.values(), short]), max_epochs=8)
    lines = census(table, max_epochs=8)
    assert lines[0].startswith("Search: 8 trials; 7 ran all 8 epochs, 1 were stopped early")
    assert "Of the 7 search trials that ran all 8 epochs: healthy 1 of 7 (14%, 95% CI 3–51%)" \
        in lines[1]
    assert "1 are undetermined" in lines[2]
    text = " ".join(landscape(table))
    assert "healthy trials (of 7 judged search trials)" in text


def test_old_history_column_js_estimate_is_migrated(tmp_path):
    from analysis.load import load_study
    from synthetic_study import write_study

    study = tmp_path / "old"
    history = write_study(study).assign(js_estimate=0.1)
    history.to_parquet(study / "history.parquet", index=False)
    data = load_study(study)
    assert "js_estimate" not in data.history and (data.history["js_lower_bound"] == 0.1).all()


def test_no_vanishing_sentence_never_calls_a_zero_norm_above_the_threshold():
    """A zero gradient norm with D(G(z)) near 0.4 is not the vanishing rule: the sentence must
    say how low the norm went without claiming it stayed above the threshold."""
    from analysis.sections import vanishing
    from gan.census import census
    from synthetic_study import histories

    history = histories()["healthy"].copy()
    history.loc[history.index[2], "g_grad_norm"] = 0.0
    (text,) = vanishing.findings(census.classify_study(history, 8), history)
    assert "went as low as 0" in text and "above the" not in text
    history["g_grad_norm"] = 2.0
    (text,) = vanishing.findings(census.classify_study(history, 8), history)
    assert "was 2, above the 0.01 threshold" in text
    assert "froze" not in text


def test_no_vanishing_sentence_names_the_frozen_trials():
    """A gradient of exactly 0 in a frozen trial is not vanishing; the sentence says where it
    went instead."""
    import pandas as pd

    from analysis.sections import vanishing
    from gan.census import census
    from synthetic_study import histories

    h = histories()
    history = pd.concat([h["healthy"], h["training_frozen"]], ignore_index=True)
    (text,) = vanishing.findings(census.classify_study(history, 8), history)
    assert "reached 0 in 1 trial (h8) that froze instead" in text
