"""One decoding step in, CUDA graphs of it out: one graph per attention length bucket.

A MusicGen step is a few hundred small kernels; launched one by one from Python the
GPU mostly waits for the CPU. Replaying a captured graph launches them all at once.
A graph fixes every shape, so the self-attention span is rounded up to a bucket
(positions past the current one are masked) and a step uses the smallest bucket
that covers it: attention reads what it needs, plus at most one bucket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch

log = logging.getLogger(__name__)

BUCKET = 128


def buckets_up_to(length: int) -> list[int]:
    """Attention spans that cover every position below `length`."""
    return [min(end, length) for end in range(BUCKET, length + BUCKET, BUCKET)]


def bucket_for(span: int, length: int) -> int:
    """The smallest bucket holding `span` keys."""
    return min(-(-span // BUCKET) * BUCKET, length)


class GraphedSteps:
    """Captured graphs of `step(attend)`, one per bucket, sharing one memory pool."""

    def __init__(self, graphs: dict[int, torch.cuda.CUDAGraph]) -> None:
        self._graphs = graphs

    @classmethod
    def capture(
        cls,
        step: Callable[[int], None],
        buckets: Sequence[int],
        reset: Callable[[], None],
    ) -> GraphedSteps | None:
        """Capture `step` for each bucket; None (and eager steps) if capture fails.

        `step` must only touch static tensors and must not synchronise with the host.
        Warm-up and capture advance the step's state, so `reset` restores it.
        """
        try:
            side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
            side.wait_stream(torch.cuda.current_stream())
            # Warm-up outside capture lets cuBLAS and attention pick and load kernels.
            with torch.cuda.stream(side):
                for attend in buckets:
                    step(attend)
            torch.cuda.current_stream().wait_stream(side)
            pool = torch.cuda.graph_pool_handle()
            graphs: dict[int, torch.cuda.CUDAGraph] = {}
            for attend in buckets:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, pool=pool):
                    step(attend)
                graphs[attend] = graph
            torch.cuda.synchronize()
        except torch.cuda.OutOfMemoryError:
            raise  # the generator halves its batch; eager steps would not fit either
        except RuntimeError as exc:
            # Eager steps are slower but correct: better than no generator at all.
            log.warning("CUDA graph capture failed, decoding without graphs: %s", exc)
            reset()
            return None
        reset()
        return cls(graphs)

    def replay(self, attend: int) -> None:
        self._graphs[attend].replay()
