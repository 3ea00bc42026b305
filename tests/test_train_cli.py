import copy
import json
import subprocess
import sys

import pandas as pd
import pytest

from gan.train.__main__ import PAPER_KEYS, main, parse_args


def test_seed_flags_and_hyphen_aliases():
    a = parse_args(["--n_epochs", "3", "--latent-dim", "8", "--sample_interval", "7"])
    assert (a.n_epochs, a.latent_dim, a.sample_interval, a.lr, a.b1) == (3, 8, 7, 2e-4, 0.5)


@pytest.mark.parametrize("argv,fragment", [
    (["--lr", "-1"], "lr must be"), (["--batch_size", "0"], "batch_size"),
    (["--latent-dim", "0"], "latent_dim"), (["--b1", "1.0"], "b1 must be in"),
    (["--b2", "1.5"], "b2 must be in"), (["--dataset", "cifar"], "cifar"),
])
def test_bad_input_one_line_exit_2_nothing_written(argv, fragment, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        rc = main([*argv, "--out-dir", str(out)])
        raise SystemExit(rc)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_mnist_missing_offline_exit_2(tmp_path, monkeypatch, capsys):
    import gan.data

    def offline(data_dir):
        raise gan.data.DataError(f"no MNIST in data dir {str(data_dir)!r} and download failed")
    monkeypatch.setattr(gan.data, "_download_mnist", offline)
    out, data = tmp_path / "out", tmp_path / "nodata"
    assert main(["--dataset", "mnist", "--data-dir", str(data), "--out-dir", str(out)]) == 2
    assert "nodata" in capsys.readouterr().err
    assert not out.exists() and not data.exists()


def test_cli_run_writes_outputs_and_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["--dataset", "synthetic", "--n-epochs", "2", "--batch-size", "32", "--latent-dim", "8",
            "--sample-interval", "15", "--log-interval", "5", "--eval-interval", "1",
            "--eval-samples", "200", "--checkpoint-interval", "1", "--out-dir", str(out)]
    proc = subprocess.run([sys.executable, "-m", "gan.train", *args], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "epoch 2/2" in proc.stderr
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    assert {"diversity", "fcd", "modes", "g_grad_fc0", "js_lower_bound"} <= set(metrics.columns)
    assert (out / "images" / "15.png").is_file() and (out / "checkpoint.pt").is_file()
    assert (out / "gan.train_config.json").is_file()
    grad = pd.read_csv(out / "grad_log.csv")
    assert grad["step"].is_monotonic_increasing and len(grad) == 40 // 5
    # Extend the same run by one epoch.
    assert main([*args[:2], *args[4:], "--n-epochs", "3", "--resume"]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2, 3]
    grad = pd.read_csv(out / "grad_log.csv")
    assert grad["step"].is_unique and grad["step"].max() == 60


@pytest.fixture(scope="module")
def untrained_fcd(embedded):
    """fcd of an untrained generator on the embedded digits: what noise scores."""
    from gan.config import GANConfig
    from gan.metrics.quality import QualityEvaluator
    from gan.train.loop import build_state

    config = GANConfig(dataset="embedded", device="cpu", eval_samples=500)
    return QualityEvaluator.for_data(embedded, config, "cpu")(build_state(config))["fcd"]


@pytest.mark.parametrize("loss", ["ns", "minimax", "lsgan", "hinge", "wgan-gp"])
def test_each_loss_beats_noise_in_three_epochs(loss, tmp_path, untrained_fcd):
    out = tmp_path / loss
    assert main(["--loss", loss, "--dataset", "embedded", "--n_epochs", "3", "--lr", "1e-3",
                 "--eval-samples", "500", "--device", "cpu", "--sample_interval", "1000",
                 "--out-dir", str(out)]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["status"]) == ["ok"] * 3
    assert metrics["fcd"].iloc[-1] < 0.9 * untrained_fcd, (metrics["fcd"].tolist(), untrained_fcd)
    saved = json.loads((out / "gan.train_config.json").read_text())
    paper = (0.0, 0.9, 5) if loss == "wgan-gp" else (0.5, 0.999, 1)  # seed's: 0.5, 0.999, 1
    assert (saved["b1"], saved["b2"], saved["n_critic"]) == paper


def test_flags_override_a_losss_paper_settings(tmp_path):
    args = ["--loss", "wgan-gp", "--b1=0.3", "--n-critic", "2", "--n_epochs", "1",
            "--dataset", "synthetic", "--eval-interval", "0", "--log-interval", "10",
            "--device", "cpu", "--out-dir", str(tmp_path)]
    assert main(args) == 0
    saved = json.loads((tmp_path / "gan.train_config.json").read_text())
    assert (saved["b1"], saved["b2"], saved["n_critic"]) == (0.3, 0.9, 2)
    # argparse accepts abbreviations; they count as given too
    args = parse_args(["--loss", "wgan-gp", "--n-crit", "2"])
    assert args.given & set(PAPER_KEYS) == {"n_critic"}
    assert args.n_critic == 2 and args.b2 == 0.999


TINY = ["--dataset", "synthetic", "--batch-size", "32", "--latent-dim", "8", "--sample-interval",
        "1000", "--log-interval", "5", "--eval-interval", "0", "--checkpoint-interval", "1"]


def test_a_bare_resume_continues_the_checkpoints_run(tmp_path):
    """A wgan-gp run resumed without --loss stays wgan-gp: its settings come from the
    checkpoint, not from the command line's defaults."""
    import json

    out = tmp_path / "wgan"
    assert main([*TINY, "--loss", "wgan-gp", "--n-epochs", "1", "--out-dir", str(out)]) == 0
    assert main(["--out-dir", str(out), "--resume", "--n-epochs", "2"]) == 0
    saved = json.loads((out / "gan.train_config.json").read_text())
    assert saved["loss"] == "wgan-gp" and saved["n_critic"] == 5 and saved["b2"] == 0.9
    assert saved["latent_dim"] == 8 and saved["n_epochs"] == 2
    assert list(pd.read_csv(out / "metrics.csv")["epoch"]) == [1, 2]


def test_a_flag_that_contradicts_the_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TINY, "--n-epochs", "1", "--out-dir", str(out)]) == 0
    capsys.readouterr()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(["--out-dir", str(out), "--resume", "--lr", "0.01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lr 0.01 contradicts the checkpoint's lr 0.0002" in err[0]
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written
    # the same value, or a setting of where it runs, is no contradiction
    assert main(["--out-dir", str(out), "--resume", "--lr", "0.0002", "--device", "cpu",
                 "--n-epochs", "2"]) == 0


def test_a_checkpoint_from_another_device_kind_resumes_reseeded(synthetic, caplog):
    """A CUDA generator's state is 16 bytes, a CPU one's 5,056: a checkpoint written on the
    other kind re-seeds batches and noise from the run's seed and step, deterministically."""
    import torch

    from conftest import tiny_config
    from gan.train.checkpoint import checkpoint_dict
    from gan.train.loop import train

    config = tiny_config(n_epochs=1)
    ckpt = checkpoint_dict(train(config, data=synthetic))
    ckpt["rng"] = torch.zeros(16, dtype=torch.uint8)  # the shape of a CUDA generator's state
    longer = tiny_config(n_epochs=2)
    # A fresh copy for each resume, as a load from disk gives: a resumed optimizer steps the
    # state tensors it was handed.
    with caplog.at_level("INFO", logger="gan.train.checkpoint"):
        first = train(longer, data=synthetic, checkpoint=copy.deepcopy(ckpt))
    assert any("another device kind" in r.getMessage() for r in caplog.records)
    again = train(longer, data=synthetic, checkpoint=copy.deepcopy(ckpt))
    assert first.epoch == 2 and first.status == "ok"
    for a, b in zip(first.generator.parameters(), again.generator.parameters()):
        assert torch.equal(a, b)
