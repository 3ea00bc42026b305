"""An ended trial keeps its record and last generator, not its training state."""

import torch

from conftest import tiny_config
from gan.records import layout
from gan.train.checkpoint import load_checkpoint, load_generator, save_checkpoint
from gan.train.loop import train
from study.footprint import slim_experiment


def _trial(study, experiment, trial_id, state, checkpoints=2):
    folder = study / experiment / layout.trial_dirname(trial_id)
    for i in range(checkpoints):
        save_checkpoint(state, folder / f"checkpoint_{i:06d}" / layout.CHECKPOINT_FILE)
    (folder / layout.TRIAL_FILE).write_text("{}")
    return folder


def test_ended_trials_keep_a_slim_last_generator_and_errored_ones_everything(tmp_path, synthetic):
    state = train(tiny_config(n_epochs=1), data=synthetic)
    done = _trial(tmp_path, layout.RAY_DIR, "a", state)
    failed = _trial(tmp_path, layout.RAY_DIR, "b", state)
    other = _trial(tmp_path, layout.race_round_dir(1), "c", state)  # another experiment
    full = layout.trial_checkpoints(done)[-1].stat().st_size
    freed = slim_experiment(tmp_path, layout.RAY_DIR, errored={"b"})
    kept = layout.trial_checkpoints(done)
    assert len(kept) == 1 and kept[0].parent.name == "checkpoint_000001"
    assert (done / "checkpoint_000000").is_dir()  # the folder stays for Tune's bookkeeping
    slim = load_checkpoint(kept[0])
    assert slim["slim"] and "opt_g" not in slim and "discriminator" not in slim
    assert kept[0].stat().st_size < full / 2 and freed > full
    generator, config = load_generator(slim)  # what gan.metrics.evaluate needs is there
    for a, b in zip(generator.parameters(), state.generator.parameters()):
        assert torch.equal(a, b)
    assert len(layout.trial_checkpoints(failed)) == 2  # errored: --resume retries it
    assert len(layout.trial_checkpoints(other)) == 2
    assert slim_experiment(tmp_path, layout.RAY_DIR, errored={"b"}) == 0  # idempotent


def test_a_slim_checkpoint_refuses_to_resume(synthetic):
    import pytest

    from gan.train.checkpoint import SLIM_KEYS, checkpoint_dict

    state = train(tiny_config(n_epochs=1), data=synthetic)
    ckpt = {**{k: v for k, v in checkpoint_dict(state).items() if k in SLIM_KEYS}, "slim": True}
    with pytest.raises(ValueError, match="cannot resume training"):
        train(tiny_config(n_epochs=2), data=synthetic, checkpoint=ckpt)
