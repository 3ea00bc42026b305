from matplotlib import image as plt_image

from analysis.sections.samples import final_grid
from conftest import tiny_config
from gan.records import layout
from gan.train.checkpoint import save_checkpoint
from gan.train.loop import train


def test_a_run_too_short_for_a_grid_is_drawn_from_its_last_generator(synthetic, tmp_path):
    """Fewer steps than the sample interval leave no grid: the report draws the final one from
    the newest checkpoint's generator on the run's fixed noise, the same 5x5 grid gan.py
    saves; a run with grids gives its last."""
    state = train(tiny_config(n_epochs=1, sample_interval=10**6), data=synthetic)
    run = tmp_path / "trial_a"
    for index in (0, 1):
        save_checkpoint(state, run / f"checkpoint_00000{index}" / layout.CHECKPOINT_FILE)
    assert layout.image_grids(run) == []
    scratch = tmp_path / "report"
    scratch.mkdir()
    assert final_grid(run, "a", None) is None  # nowhere to draw it
    drawn = final_grid(run, "a", scratch)
    assert drawn.parent == scratch and plt_image.imread(drawn).shape[:2] == (152, 152)
    (run / layout.IMAGES_DIR).mkdir()
    kept = run / layout.IMAGES_DIR / "20.png"
    kept.write_bytes(drawn.read_bytes())
    assert final_grid(run, "a", scratch) == kept
