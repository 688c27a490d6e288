"""The DQN update, defined once for every learner (numpy layers and torch video blocks).

One step for S seeds: Double DQN (the online network picks the next action, the target
network values it; plain DQN when ``double_dqn`` is off), n-step returns and discounts from
the replay, the Huber gradient ``clip(td, -huber_delta, huber_delta) / B`` on the taken
action's Q-value, per-seed global-norm clipping at ``grad_clip``, plain SGD at
``adapter_lr`` on the input adapter and Adam at ``lr`` (eps ``adam_eps``) on the rest
(:mod:`.optim`). A seed whose gradient norm or TD errors are not finite is *parked*: its
parameters and optimiser state are zeroed before the step and it never moves again.

:class:`FlatLearner` holds that update. A learner subclasses it, keeps each seed's trainable
parameters as one row of flat (S, P) arrays of one array library (numpy arrays, torch
tensors), input adapter first, and supplies its network:

- ``_arrays(both, actions, returns, discounts)``: the batch as that library's arrays;
- ``_forward(both, batch)``: Q-values of the observations ``q`` (S, B, A) under the online
  network, of the next observations under the target network (S, B, A) and, for Double
  DQN, under the online network (S, B, A) (else None), and a cache for the backward pass;
- ``_backward(cache, dq)``: write dL/dparams (S, P) into ``self.grad`` given dL/dq
  (S, B, A).

Everything else (targets, TD errors, the Huber gradient, clipping, parking, optimisers) is
written once below against the array API (:func:`.optim.namespace`), so the numbers of a
numpy layer trained by either learner agree to float tolerance
(``tests/video/test_learner_parity.py``).
"""

from __future__ import annotations

import time

import numpy as np

from .config import DQNConfig
from .optim import SGD, Adam, clip_by_norm, namespace

#: The parts of an update, in order, as :attr:`FlatLearner.profile` times them.
PARTS = ("forward", "TD target + dq", "backward", "clip", "optimizer")


class FlatLearner:
    """The DQN update over flat (S, P) parameter arrays; see the module docstring.

    Subclasses set ``config``, ``n_seeds``, ``online``/``target``/``grad`` arrays (S, P)
    (or override :meth:`_flat`), and call :meth:`_init_update` with the number of input
    adapter entries leading each row. Set ``profile`` to a dict to add each part's seconds
    to it (``bench/`` reads where an update's time goes from the library's own update).
    """

    config: DQNConfig
    n_seeds: int
    profile: dict[str, float] | None = None
    #: The clock ``profile`` reads (bench/ sets CPU time: ``time.thread_time``).
    profile_clock = staticmethod(time.perf_counter)

    def _flat(self):
        """(online, target, grad) as (S, P) arrays."""
        return self.online, self.target, self.grad

    def _init_update(self, adapter_entries: int) -> None:
        online, _, _ = self._flat()
        c, split = self.config, adapter_entries
        self.optimizers = [(slice(0, split), SGD(online[:, :split], c.adapter_lr)),
                           (slice(split, None), Adam(online[:, split:], c.lr,
                                                     eps=c.adam_eps))]
        self.parked = np.zeros(self.n_seeds, bool)
        self._any_parked = False                   # whether any seed is parked
        self._live = np.arange(self.n_seeds)       # the seeds not parked
        self._norms = np.full(self.n_seeds, np.nan)
        self._index_cache: dict[int, tuple] = {}

    # ---------------------------------------------------------------- for subclasses
    def _arrays(self, both, actions, returns, discounts):
        return both, actions, returns, discounts

    def _forward(self, both, batch: int):
        raise NotImplementedError

    def _backward(self, cache, dq) -> None:
        raise NotImplementedError

    def _host(self, norms, finite) -> tuple[np.ndarray, np.ndarray]:
        """Norms (S,) and finite flags (S,) as numpy arrays."""
        return norms, finite

    def _park(self, rows: list[int]) -> None:
        """Zero seeds ``rows``' parameters, target and optimiser state."""
        for buf in self._flat():
            buf[rows] = 0.0
        for _, opt in self.optimizers:
            opt.reset_rows(rows)

    def _after_step(self, cache, live: np.ndarray) -> None:
        """Called after the optimiser step with the forward cache and the live seeds."""

    def _index(self, like, n_seeds: int, batch: int):
        """Row (S, 1) and column (1, B) index arrays in the library of ``like``."""
        got = self._index_cache.get(batch)
        if got is None:
            rows, cols = np.arange(n_seeds)[:, None], np.arange(batch)[None, :]
            if not isinstance(like, np.ndarray):
                rows, cols = (like.new_tensor(a, dtype=like.dtype) for a in (rows, cols))
            got = self._index_cache[batch] = (rows, cols)
        return got

    # --------------------------------------------------------------------- the update
    def gradient(self, both, actions, returns, discounts):
        """Write each seed's gradient of the Huber loss, before clipping, into ``grad``
        (S, P) and return the TD errors (S, B) and the forward cache (no step taken)."""
        c, profile = self.config, self.profile
        clock = _no_clock if profile is None else self.profile_clock
        t0 = clock()
        both, actions, returns, discounts = self._arrays(both, actions, returns, discounts)
        batch = actions.shape[1]
        q, q_next_target, q_next_online, cache = self._forward(both, batch)
        t1 = clock()
        xp = namespace(q)
        rows, cols = self._index(actions, actions.shape[0], batch)
        best = xp.argmax(q_next_target if q_next_online is None else q_next_online, axis=2)
        y = returns + discounts * q_next_target[rows, cols, best]
        td = q[rows, cols, actions] - y
        dq = xp.zeros_like(q)
        dq[rows, cols, actions] = xp.clip(td, -c.huber_delta, c.huber_delta) / batch
        t2 = clock()
        self._backward(cache, dq)
        if profile is not None:
            t3 = clock()
            for name, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2)):
                profile[name] = profile.get(name, 0.0) + dt
        return td, cache

    def update(self, both, actions, returns, discounts) -> tuple[np.ndarray, np.ndarray]:
        """One step for every seed.

        ``both`` (S, 2B, D) is [obs; next obs], ``actions`` (S, B) int64, ``returns`` and
        ``discounts`` (S, B) the n-step returns and gamma^n (0 past a terminal). Returns the
        gradient norm before clipping (S,) and whether each seed's TD errors were finite
        (S,); a parked seed reports (nan, False).
        """
        td, cache = self.gradient(both, actions, returns, discounts)
        profile = self.profile
        clock = _no_clock if profile is None else self.profile_clock
        t3 = clock()
        _, _, grad = self._flat()
        xp = namespace(td)
        norms, finite = self._host(clip_by_norm(grad, self.config.grad_clip),
                                   xp.all(xp.isfinite(td), axis=1))
        self._norms = norms
        if self._any_parked or not (np.isfinite(norms).all() and finite.all()):
            self._stop_seeds(norms, finite, grad)
        t4 = clock()
        for part, opt in self.optimizers:
            opt.step(grad[:, part])
        self._after_step(cache, self._live)
        if profile is not None:
            t5 = clock()
            for name, dt in zip(PARTS[3:], (t4 - t3, t5 - t4)):
                profile[name] = profile.get(name, 0.0) + dt
        return norms, finite

    def _stop_seeds(self, norms: np.ndarray, finite: np.ndarray, grad) -> None:
        """Park the seeds whose norm or TD errors are not finite (reported as they are);
        report the seeds parked earlier as (nan, False); zero every parked seed's gradient."""
        before = np.flatnonzero(self.parked).tolist()
        if before:                          # parked earlier: nothing to report
            norms[before], finite[before] = np.nan, False
        newly = ~(np.isfinite(norms) & finite) & ~self.parked
        if newly.any():                     # reported as they are, then parked
            self._park(np.flatnonzero(newly).tolist())
            self.parked |= newly
            self._live = np.flatnonzero(~self.parked)
        self._any_parked = bool(self.parked.any())
        if self._any_parked:
            grad[np.flatnonzero(self.parked).tolist()] = 0.0

    def sync_target(self) -> None:
        """Copy the online parameters into the target network."""
        online, target, _ = self._flat()
        target[...] = online
        self._after_sync()

    def _after_sync(self) -> None:
        """Called after the target network got the online parameters."""

    def group_norms(self, groups: dict[str, list[slice]]) -> dict[str, np.ndarray]:
        """Norm (S,) of each parameter group's gradient in the last update, before
        clipping: ``groups`` maps a group to its parameters' column ranges."""
        _, _, grad = self._flat()
        grad = grad if isinstance(grad, np.ndarray) else _to_numpy(grad)
        clip, norms = self.config.grad_clip, self._norms
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where((clip > 0) & (norms > clip), norms / clip, 1.0)
        out = {}
        for group, parts in groups.items():
            if parts:
                sq = sum(np.square(grad[:, part], dtype=np.float64).sum(axis=1)
                         for part in parts)
                out[group] = np.where(self.parked, np.nan, np.sqrt(sq) * scale)
        return out


def _no_clock() -> float:
    """The clock when nothing is profiled: no system call (a CPU-time clock is one)."""
    return 0.0


def _to_numpy(t) -> np.ndarray:
    """A torch tensor (any device and float dtype) as a float64 numpy array."""
    return t.detach().double().cpu().numpy()
