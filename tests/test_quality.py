"""Validity of the collapse detector on real embedded digits (the table in docs/metrics.md)."""

from gan.census import outcomes
import json
import subprocess
import sys

import pytest
import torch

from gan.metrics.classifier import load_or_train_classifier
from gan.metrics.scores import density_coverage
from gan.metrics.quality import QualityEvaluator, control_images, reference_images


@pytest.fixture(scope="module")
def evaluator(embedded):
    classifier, acc = load_or_train_classifier(embedded)
    return QualityEvaluator(classifier, reference_images(embedded)), acc


@pytest.fixture(scope="module")
def control(embedded):
    return control_images(embedded), embedded.test_labels[1::2]


def test_classifier_accuracy_on_embedded(evaluator):
    assert evaluator[1] >= 0.96


def test_classifier_is_cached(embedded, evaluator, caplog):
    with caplog.at_level("INFO"):
        _, acc = load_or_train_classifier(embedded)
    assert acc == evaluator[1] and "loaded evaluator classifier" in caplog.text


def test_real_held_out_digits(evaluator, control):
    m = evaluator[0].score(control[0])
    assert m["diversity"] >= 0.9 and m["modes"] == 10
    assert m["class_kl"] <= 0.02 and m["inception_score"] >= 9


def test_one_class_collapses(evaluator, control):
    images, labels = control
    assert evaluator[0].score(images[labels == 7].repeat(20, 1, 1, 1)[:500])["diversity"] <= 0.2


def test_ten_prototypes_collapse_though_all_modes_present(evaluator, control):
    images, labels = control
    protos = torch.stack([images[labels == c][0] for c in range(10)]).repeat(50, 1, 1, 1)
    m = evaluator[0].score(protos)
    assert m["modes"] == 10 and m["diversity"] <= 0.3


def test_diversity_rises_with_kept_classes(evaluator, control):
    images, labels = control
    scores = []
    for k in range(1, 11):
        kept = images[labels < k]
        scores.append(evaluator[0].score(kept[torch.arange(500) % len(kept)])["diversity"])
    assert all(a < b for a, b in zip(scores, scores[1:])), scores


def test_nonfinite_samples_are_nan_with_status(evaluator, control):
    bad = control[0][:10].clone()
    bad[0, 0, 0, 0] = float("nan")
    m = evaluator[0].score(bad)
    assert m["eval_status"] == "nonfinite_samples" and m["diversity"] != m["diversity"]


def _evaluate(*args):
    return subprocess.run([sys.executable, "-m", "gan.metrics.evaluate", *args], capture_output=True,
                          text=True, timeout=300)


def test_evaluate_cli_scores_a_file_and_rejects_bad_ones(tmp_path, control):
    good = tmp_path / "good.pt"
    torch.save(control[0][:200].clone(), good)
    proc = _evaluate(str(good), "--dataset", "embedded")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["modes"] == 10
    wrong = tmp_path / "wrong.pt"
    torch.save(torch.zeros(5, 28, 28), wrong)
    proc = _evaluate(str(wrong), "--dataset", "embedded")
    assert proc.returncode == 2 and "wrong.pt" in proc.stderr
    junk = tmp_path / "junk.pt"
    junk.write_text("nope")
    proc = _evaluate(str(junk))
    assert proc.returncode == 2 and "junk.pt" in proc.stderr.strip().splitlines()[-1]


def test_evaluate_cli_samples_a_checkpoint(tmp_path, synthetic, capsys):
    from conftest import tiny_config
    from gan.train.loop import train
    from gan.train.checkpoint import save_checkpoint
    from gan.metrics.evaluate import main

    path = save_checkpoint(train(tiny_config(n_epochs=1), data=synthetic), tmp_path / "c.pt")
    assert main(["--checkpoint", str(path), "--num-samples", "300"]) == 0
    result = json.loads(capsys.readouterr().out)
    # M = N: the synthetic reference holds 100 images (the even half of 200 held out)
    assert result["dataset"] == "synthetic" and result["num_samples"] == 100
    assert 0 <= result["diversity"] <= 1 and result["eval_status"] == "ok"
    assert main([]) == 2  # neither samples nor checkpoint


def test_expected_coverage_lemma():
    from gan.metrics.scores import expected_coverage

    assert expected_coverage(n_real=1000, n_fake=1000) == pytest.approx(1 - 2 ** -5, abs=2e-3)
    assert expected_coverage(n_real=5000, n_fake=1000) == pytest.approx(0.60, abs=0.01)
    with pytest.raises(ValueError, match="n_real=3"):
        expected_coverage(n_real=3, n_fake=10)


@pytest.mark.parametrize("held_out", [1000, 5000])
def test_real_vs_real_coverage_at_m_equals_n_on_both_reference_sizes(embedded, held_out):
    """The embedded subset (500 reference digits) and a full-MNIST-sized stand-in (a held-out
    split of 5,000 real digits, reference subsampled to the 1,000 samples scored)."""
    from gan.data import DataSplit

    test = torch.cat([embedded.test, embedded.train])[:held_out]
    labels = torch.cat([embedded.test_labels, embedded.train_labels])[:held_out]
    split = DataSplit("embedded", embedded.train, embedded.train_labels, test, labels)
    classifier, _ = load_or_train_classifier(split)
    n = min(1000, held_out // 2)
    evaluator = QualityEvaluator(classifier, reference_images(split, n))
    m = evaluator.score(control_images(split, n))
    assert len(evaluator.ref_features) == n and m["coverage_expected"] == pytest.approx(0.969, abs=0.01)
    assert abs(m["coverage"] - m["coverage_expected"]) < 0.05, m
    assert m["diversity"] >= 0.9
    if held_out == 5000:  # without M = N the same real digits would look 20% less covered
        full = QualityEvaluator(classifier, reference_images(split))
        with pytest.raises(ValueError, match="M = N"):
            full.score(control_images(split, n))
        _, unmatched = density_coverage(full.ref_features, full.embed(control_images(split, n))[0],
                                        radii=full.ref_radii)
        assert unmatched < m["coverage"] - 0.1


def test_collapse_thresholds_at_m_equals_n_separate_real_digits_known_collapses_and_noise(
        evaluator, control):
    """Each input scored at M = N (500 against the 500 reference digits) and judged by the
    census's sample rules over a final window after a learned peak."""
    import pandas as pd

    from gan.census import failures

    images, labels = control
    n = len(evaluator[0].ref_features)
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cases = {
        "real": (images, failures.HEALTHY),
        "one class": (images[labels == 7].repeat(20, 1, 1, 1)[:n], outcomes.COLLAPSED),
        "three classes": (images[labels < 3].repeat(4, 1, 1, 1)[:n], outcomes.COLLAPSED),
        "ten prototypes": (torch.stack([images[labels == c][0] for c in range(10)])
                           .repeat(50, 1, 1, 1)[:n], outcomes.COLLAPSED),
        "noise": (noise, outcomes.NOT_LEARNED),
    }
    for name, (x, expected) in cases.items():
        m = evaluator[0].score(x)
        rows = [{"epoch": 1, "status": "ok", "d_loss": 0.6, "diversity": 0.5, "coverage": 0.5,
                 "modes": 10, "density": 0.8}]
        rows += [{"epoch": e, "status": "ok", "d_loss": 0.6, **{k: m[k] for k in
                  ("diversity", "coverage", "modes", "density")}} for e in (2, 3, 4)]
        assert outcomes.sample_outcome(pd.DataFrame(rows)) == expected, (name, m)


def test_known_collapses_read_the_same_at_32x32(embedded, control):
    """A 32x32 network (the DCGAN) is judged by the same classifier at the data's 28x28, its
    reference taken through the same round trip: each known case keeps its census class, its
    diversity, and its fcd relative to real digits (the table in docs/metrics.md)."""
    import pandas as pd

    from gan.config import GANConfig
    from gan.data import at_size

    e28 = QualityEvaluator.for_data(embedded, GANConfig(dataset="embedded"))
    e32 = QualityEvaluator.for_data(embedded, GANConfig(dataset="embedded", model="dcgan",
                                                        img_size=32))
    assert e28.classifier_id == e32.classifier_id and e32.size == 28
    images, labels = control
    n = len(e28.ref_features)
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cases = {"real": images, "one class": images[labels == 7].repeat(20, 1, 1, 1)[:n],
             "ten prototypes": torch.stack([images[labels == c][0] for c in range(10)])
             .repeat(50, 1, 1, 1)[:n], "noise": noise}
    scores = {name: (e28.score(x), e32.score(at_size(x, 32))) for name, x in cases.items()}

    def census(m):
        rows = [{"epoch": 1, "status": "ok", "d_loss": 0.6, "diversity": 0.5, "coverage": 0.5,
                 "modes": 10, "density": 0.8}]
        rows += [{"epoch": e, "status": "ok", "d_loss": 0.6, **{k: m[k] for k in
                  ("diversity", "coverage", "modes", "density")}} for e in (2, 3, 4)]
        return outcomes.sample_outcome(pd.DataFrame(rows))

    real28, real32 = scores["real"]
    for name, (a, b) in scores.items():
        assert census(a) == census(b), name
        assert abs(a["diversity"] - b["diversity"]) <= 0.03, (name, a, b)
        ratio28, ratio32 = a["fcd"] / real28["fcd"], b["fcd"] / real32["fcd"]
        assert abs(ratio32 / ratio28 - 1) <= 0.2, (name, ratio28, ratio32)
