"""Dynamic batching: inputs of concurrent requests are merged into token-bounded batches.

Every request's inputs join one FIFO queue. A worker task takes inputs from the head while the batch
stays within ``max_batch_size`` sentences and ``max_batch_tokens`` padded tokens (sentences x longest),
runs the encoder in a worker thread (the event loop keeps accepting requests meanwhile), and writes each
vector into its own request's answer at the input's own position. A request larger than one batch is
spread over several. While a batch runs the next one fills up, so batches grow with the load. Before a
batch starts, the worker waits at most ``batch_wait_s`` for the queue to refill with the clients the last
batch answered: they come back together, and starting on the first of them splits them into a batch of
one or two and a batch of the rest (measured in ``docs/serving.md``). With several workers batches start
at once: another worker's batch is still out, and waiting for its clients cost 38% of the requests/s.

At most ``max_concurrent_requests`` requests are admitted (queued or running); one more raises
:class:`Overloaded`, which the app turns into a 429. Everything here runs on the event loop thread
except the encoder call, so the queue needs no lock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


class Overloaded(Exception):
    """The server already holds ``max_concurrent_requests`` requests."""


class BatcherClosed(Exception):
    """The server is shutting down and takes no new work."""


class EncodeFailed(Exception):
    """The encoder raised on a batch (a server-side fault: the inputs were validated before)."""


@dataclass(eq=False)
class _Job:
    texts: Sequence[str]
    lengths: Sequence[int]
    future: asyncio.Future
    enqueued: float
    remaining: int = 0
    out: np.ndarray | None = None


class DynamicBatcher:
    """Merge concurrent ``submit`` calls into batches for ``encode(texts) -> [n, dim] float32``."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        max_batch_tokens: int,
        max_batch_size: int,
        max_concurrent_requests: int,
        workers: int = 1,
        batch_wait_s: float = 0.0,
        metrics=None,
    ) -> None:
        self._encode = encode
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_concurrent_requests = max_concurrent_requests
        self.workers = workers
        self.batch_wait_s = batch_wait_s
        self.metrics = metrics
        self._queue: deque[tuple[_Job, int]] = deque()
        self._admitted = 0
        self._closing = False
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0  # batches run so far (tests and /info read it)
        self._refill_to = 0  # inputs the next batch waits for (at most batch_wait_s): see _refill

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker tasks on the running event loop."""
        if self._tasks:
            return
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mlctl-encode")
        self._tasks = [asyncio.create_task(self._worker(), name=f"mlctl-batcher-{i}") for i in range(self.workers)]

    async def close(self) -> None:
        """Take no new requests, finish every queued input, stop the workers and the thread pool."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    @property
    def admitted(self) -> int:
        """Requests queued or running now."""
        return self._admitted

    @property
    def queued_inputs(self) -> int:
        return len(self._queue)

    # ---- requests --------------------------------------------------------------------------------
    async def submit(self, texts: Sequence[str], lengths: Sequence[int]) -> np.ndarray:
        """Encode ``texts`` (token ``lengths`` already counted): ``[len(texts), dim]`` in input order."""
        if self._closing or not self._tasks:
            raise BatcherClosed("the server is shutting down")
        if self._admitted >= self.max_concurrent_requests:
            raise Overloaded(f"{self._admitted} requests already queued or running "
                             f"(max_concurrent_requests={self.max_concurrent_requests}); retry later")
        loop = asyncio.get_running_loop()
        job = _Job(texts=texts, lengths=lengths, future=loop.create_future(), enqueued=time.perf_counter(),
                   remaining=len(texts))
        self._admitted += 1
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            self._queue.extend((job, i) for i in range(len(texts)))
            self._gauge()
            self._wake.set()
            return await job.future
        finally:
            self._admitted -= 1
            if self.metrics is not None:
                self.metrics.in_flight.dec()

    # ---- the worker ------------------------------------------------------------------------------
    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.set(len(self._queue))

    def _take(self) -> tuple[list[tuple[_Job, int]], int]:
        """Inputs from the head of the queue that fit one batch; (items, padded tokens)."""
        batch: list[tuple[_Job, int]] = []
        longest = 0
        q = self._queue
        while q and len(batch) < self.max_batch_size:
            job, i = q[0]
            if job.future.done():  # cancelled (client went away) or failed: drop its inputs
                q.popleft()
                continue
            new_longest = max(longest, job.lengths[i])
            if batch and new_longest * (len(batch) + 1) > self.max_batch_tokens:
                break
            q.popleft()
            batch.append((job, i))
            longest = new_longest
        self._gauge()
        return batch, longest * len(batch)

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            if self.batch_wait_s and self.workers == 1 and not self._closing:
                await self._refill(loop)
            batch, padded = self._take()
            if not batch:
                continue
            now = time.perf_counter()
            texts = [job.texts[i] for job, i in batch]
            m = self.metrics
            if m is not None:
                for job, _ in batch:
                    m.queue_time.observe(now - job.enqueued)
                m.batch_size.observe(len(batch))
                m.batch_tokens.observe(padded)
            try:
                vecs = await loop.run_in_executor(self._executor, self._encode, texts)
            except Exception as e:  # noqa: BLE001  the encoder failed: fail these requests, keep serving
                for job, _ in batch:
                    if not job.future.done():
                        job.future.set_exception(EncodeFailed(f"{type(e).__name__}: {e}"))
                continue
            finally:
                self.batches += 1
                if m is not None:
                    m.inference_time.observe(time.perf_counter() - now)
            # the clients this batch answers come back, and join those that queued while it ran
            self._refill_to = min(self.max_batch_size, len(batch) + len(self._queue))
            try:
                self._route(batch, vecs)
            except Exception as e:  # noqa: BLE001  a malformed encoder answer (wrong shape): fail, keep serving
                for job, _ in batch:
                    if not job.future.done():
                        job.future.set_exception(EncodeFailed(f"bad encoder output: {type(e).__name__}: {e}"))

    async def _refill(self, loop) -> None:
        """Wait at most ``batch_wait_s`` while the queue holds fewer inputs than the last batch answered
        plus those that queued while it ran.

        Closed-loop clients answered by one batch come back within a millisecond or two of each other; a
        worker that starts on the first of them runs a batch of one or two, and the rest wait for it
        (batches alternate small and large, the cores idle between them). Under a single client the last
        batch answered one input and nothing else queued, so nothing waits."""
        want = self._refill_to
        deadline = loop.time() + self.batch_wait_s
        while len(self._queue) < want and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except asyncio.TimeoutError:
                return

    @staticmethod
    def _route(batch: list[tuple[_Job, int]], vecs: np.ndarray) -> None:
        """Each vector to its own request, at its input's position."""
        if len(vecs) != len(batch):
            raise ValueError(f"{len(vecs)} vectors for {len(batch)} inputs")
        for (job, i), vec in zip(batch, vecs):
            if job.future.done():
                continue
            if job.out is None:
                job.out = np.empty((len(job.texts), vecs.shape[1]), dtype=np.float32)
            job.out[i] = vec
            job.remaining -= 1
            if job.remaining == 0:
                job.future.set_result(job.out)
