"""The training step as CUDA graphs: captured once per run, replayed on every batch.

At batch 64 a step is about 1 GFLOP, which a current GPU computes in tens of
microseconds; eagerly, the host spends milliseconds launching the step's ~100
small kernels one at a time. Replaying a captured graph launches them all at
once. What the graph holds, so that nothing in a step touches the host:

- the batch draw: the epoch's shuffled indices sit in a static (steps, B) buffer
  and a device counter picks the row, so the data is indexed on the device;
- the noise (and wgan-gp's interpolation weights) from the run's own seeded
  ``torch.Generator``, registered with each graph, so every replay advances it
  exactly as an eager step would, and a checkpoint's RNG state resumes exactly;
- the G step, the D step (the gradient penalty's double backward included), both
  fused, capturable Adam updates, the per-layer gradient norms, the running epoch
  totals, and a sticky flag set by any non-finite value a checked metric takes.

Two graphs at most: one for batches where G steps and one where only D does
(``n_critic`` > 1). Each is captured after a few eager warm-up steps of its
kind on a side stream (real training steps: they initialise Adam's state and the
libraries' workspaces). The host keeps only what it must: the step count, the
log-interval reads (which are syncs anyway) and the callbacks.

If capture fails, the run goes on eagerly from where it is, and says so in one
log line. A failed capture leaves the model as it was: capturing records work,
it runs none.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable

import torch

log = logging.getLogger(__name__)

WARMUP_STEPS = 3  # eager steps of each kind before its graph is captured (PyTorch's advice)
Step = Callable[[torch.Tensor, bool], torch.Tensor]


class GraphedSteps:
    """Runs the loop's ``step(real, g_step) -> row`` from static buffers, as CUDA graphs.

    Args:
        step: the eager step; it must not sync with the host.
        train_x: (N, C, H, W) training images on the CUDA device.
        batch_size: B.
        width: the length M of the rows ``step`` returns.
        checked: (M,) bool: the columns that must stay finite.
        rng: the run's generator, registered with every graph.
    """

    def __init__(self, step: Step, train_x: torch.Tensor, batch_size: int, width: int,
                 checked: torch.Tensor, rng: torch.Generator) -> None:
        device = train_x.device
        self.step, self.train_x, self.rng = step, train_x, rng
        self.steps = len(train_x) // batch_size
        self.batches = torch.zeros(self.steps, batch_size, dtype=torch.long, device=device)
        self.cursor = torch.zeros(1, dtype=torch.long, device=device)  # the batch row
        self.totals = torch.zeros(width, device=device)
        self.bad = torch.zeros((), dtype=torch.bool, device=device)  # any non-finite value
        self.checked = checked.to(device)
        self.graphs: dict[bool, torch.cuda.CUDAGraph] = {}
        self.rows: dict[bool, torch.Tensor] = {}  # each graph's static output row
        self.warm = {True: 0, False: 0}
        self.pool = None  # both graphs share one memory pool, made at the first capture
        self.eager = False  # set when a capture failed: every step then runs eagerly

    @property
    def captured(self) -> int:
        """How many graphs this run captured (0 until the first capture, or after a failure)."""
        return len(self.graphs)

    def new_epoch(self, perm: torch.Tensor) -> None:
        """Load the epoch's shuffled indices (N,) and zero the counter, totals and flag."""
        self.batches.copy_(perm[:self.batches.numel()].view_as(self.batches))
        self.cursor.zero_()
        self.totals.zero_()
        self.bad.zero_()

    def _body(self, g_step: bool) -> torch.Tensor:
        ids = self.batches.index_select(0, self.cursor).squeeze(0)  # (B,)
        row = self.step(self.train_x.index_select(0, ids), g_step)  # (M,)
        self.totals.add_(row)
        # torch.where, not row[mask]: a boolean index has a data-dependent shape (a host sync).
        self.bad.logical_or_(~torch.isfinite(torch.where(self.checked, row, 0.0)).all())
        self.cursor.add_(1)
        return row

    def run(self, g_step: bool) -> torch.Tensor:
        """One training step; its metric row (M,), valid until the next step."""
        graph = self.graphs.get(g_step)
        if graph is not None:
            graph.replay()
            return self.rows[g_step]
        if self.eager:
            return self._body(g_step)
        if self.warm[g_step] < WARMUP_STEPS:
            self.warm[g_step] += 1
            return self._warmup(g_step)
        return self._capture(g_step)

    def _warmup(self, g_step: bool) -> torch.Tensor:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), warnings.catch_warnings():
            # capturable Adam warns when it steps outside a graph: these steps are meant to
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            row = self._body(g_step)
        torch.cuda.current_stream().wait_stream(side)
        return row

    def _capture(self, g_step: bool) -> torch.Tensor:
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        try:
            # A torch whose graphs take generators otherwise (or not at all) must not stop
            # the run: without the registration a replay would repeat the same noise.
            graph.register_generator_state(self.rng)
        except (AttributeError, RuntimeError, TypeError) as err:
            return self._fall_back(g_step, "cannot register the run's generator with a graph",
                                   err)
        try:
            with torch.cuda.graph(graph, pool=self.pool):
                row = self._body(g_step)
        except RuntimeError as err:
            return self._fall_back(g_step, "CUDA graph capture failed", err)
        self.graphs[g_step], self.rows[g_step] = graph, row
        graph.replay()  # capturing ran nothing: this is the step
        return row

    def _fall_back(self, g_step: bool, why: str, err: Exception) -> torch.Tensor:
        """Run this step, and every later one, eagerly; one log line says why."""
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        log.warning("%s (%s); this run trains eagerly", why, first)
        self.eager = True
        self.graphs.clear()
        return self._body(g_step)
