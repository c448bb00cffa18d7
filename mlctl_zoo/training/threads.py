"""Pick the CPU thread count while training (``training.threads: auto``).

On a shared CPU, intra-op parallelism can be several times *slower* than one thread: every parallel
region waits for its slowest thread, and with more runnable threads than cores that thread is often
descheduled (measured here: a MiniLM forward+backward took 3.6 s on 1 thread and 14 s on 2 with the
machine's load at 10). On an idle machine all cores win. So ``auto`` measures both, per padded token,
on real training steps, keeps the faster, and probes the other again now and then, since load changes.
Thread counts change float summation order, so ``auto`` runs are not bit-reproducible (recorded).
"""

from __future__ import annotations


class ThreadTuner:
    def __init__(self, max_threads: int, probe_steps: int = 3, reprobe_every: int = 60) -> None:
        self.options = [max_threads, 1] if max_threads > 1 else [1]
        self.probe_steps = probe_steps
        self.reprobe_every = reprobe_every
        self.cost: dict[int, float] = {}  # threads -> seconds per padded token (latest probe)
        self.best = self.options[0]
        self.step = 0
        self.history: list[tuple[int, int, float]] = []  # (step, threads, s/token)

    def choose(self) -> int:
        """Thread count for the next step: a warm-up step, ``probe_steps`` on all cores, ``probe_steps`` on
        one, then the faster, with the other probed again for ``probe_steps`` every ``reprobe_every``."""
        if len(self.options) == 1:
            return 1
        s, p = self.step, self.probe_steps
        if s <= p:
            return self.options[0]
        if s <= 2 * p:
            return self.options[1]
        if (s - 2 * p) % self.reprobe_every >= self.reprobe_every - p:
            return next(o for o in self.options if o != self.best)
        return self.best

    def observe(self, threads: int, seconds: float, tokens: int) -> None:
        self.step += 1
        if len(self.options) == 1 or self.step == 1 or tokens <= 0:
            return
        c = seconds / tokens
        prev = self.cost.get(threads)
        self.cost[threads] = c if prev is None else 0.5 * (prev + c)
        self.history.append((self.step, threads, c))
        if len(self.cost) == len(self.options):
            self.best = min(self.cost, key=self.cost.get)

    def summary(self) -> dict:
        return {"mode": "auto", "chosen": self.best,
                "us_per_token": {str(k): round(v * 1e6, 2) for k, v in self.cost.items()}}
