"""Multi-armed bandits that choose among heuristics: the node heuristics of fw-bnb and the neighbourhoods of lns.

Rewards lie in [0, 1] (``bnb.solve`` passes relative incumbent improvement per second, squashed).
- ``ucb``: UCB1 (Auer, Cesa-Bianchi, Fischer 2002): mean + sqrt(2 ln t / n), every arm once first.
- ``exp3``: Exp3 (Auer et al. 2002) with exploration ``gamma``; importance-weighted rewards.
- ``epsgreedy``: best mean with probability 1 - eps, a uniform arm otherwise.
- ``thompson``: Thompson sampling (Thompson 1933; Agrawal and Goyal 2012) with a Beta(1 + S, 1 + n - S) posterior
  per arm, S the summed rewards of its n calls: the arm whose posterior draw is largest. Unlike UCB1, whose bonus
  sqrt(2 ln t / n) assumes rewards spread over [0, 1], its exploration shrinks with the rewards' own scale, so
  arms that almost never pay (mean rewards near 0, the usual case in lns) stop being played.
- ``thompson-discounted``: discounted Thompson sampling (Raj and Kalyani 2017, "Taming non-stationary bandits: a
  Bayesian approach"): before each update every arm's successes S and failures F (F = n - S) are multiplied by
  ``discount`` (default ``DISCOUNT``), then the played arm gets S += r, F += 1 - r; draw from Beta(1 + S, 1 + F).
  The posterior forgets at that rate per call (a memory of about 1 / (1 - discount) calls), so an arm left early is
  tried again once the leader's yield falls: lns' yields are not stationary (rows settle as the search goes on).
- ``thompson-budgeted``: budgeted Thompson sampling (Xia, Li, Qin, Yu, Liu 2015, "Thompson sampling for budgeted
  multi-armed bandits"): each call also reports its cost in [0, 1]; every arm keeps a Beta posterior for its reward
  (as ``thompson``) and one for its cost, and the arm with the largest ratio of draws (reward / cost) is played, so a
  cheap failure counts for less than a dear one (plain Thompson scores every failure 0, whatever it cost). Without
  costs it is ``thompson``.
- ``round-robin``: the fixed schedule the bandits are compared with.
As in Chmiela, Gleixner, Lichocki, Pokutta (2023) for SCIP's heuristic scheduler.
"""
from __future__ import annotations

import math

import numpy as np

POLICIES = ("ucb", "exp3", "epsgreedy", "thompson", "thompson-discounted", "thompson-budgeted", "round-robin")
DISCOUNT = 0.99  # thompson-discounted's forgetting factor per call (Raj and Kalyani use 0.9 - 0.99)


class Bandit:
    def __init__(self, arms: int, policy: str = "ucb", *, seed: int = 0, gamma: float = 0.1, eps: float = 0.1,
                 discount: float = DISCOUNT):
        if policy not in POLICIES:
            raise ValueError(f"unknown bandit policy {policy!r}; known: {', '.join(POLICIES)}")
        if not 0.0 < discount <= 1.0:
            raise ValueError(f"bandit discount must lie in (0, 1]; got {discount!r}")
        self.policy, self.arms, self.gamma, self.eps, self.discount = policy, arms, gamma, eps, discount
        self.rng = np.random.default_rng(seed)
        self.counts = np.zeros(arms)
        self.sums = np.zeros(arms)
        self.costs = np.zeros(arms)  # thompson-budgeted's summed costs (None given: no cost posterior)
        self.costed = False
        self.successes = np.zeros(arms)  # thompson-discounted's discounted S and F
        self.failures = np.zeros(arms)
        self.log_weights = np.zeros(arms)
        self.rounds = 0
        self._last_probabilities = np.full(arms, 1.0 / arms)

    def choose(self) -> int:
        self.rounds += 1
        if self.policy == "round-robin":
            return (self.rounds - 1) % self.arms
        if self.policy == "exp3":
            weights = np.exp(self.log_weights - self.log_weights.max())
            self._last_probabilities = (1 - self.gamma) * weights / weights.sum() + self.gamma / self.arms
            return int(self.rng.choice(self.arms, p=self._last_probabilities))
        if self.policy == "thompson":
            return int(np.argmax(self.rng.beta(1.0 + self.sums, 1.0 + self.counts - self.sums)))
        if self.policy == "thompson-discounted":
            return int(np.argmax(self.rng.beta(1.0 + self.successes, 1.0 + self.failures)))
        if self.policy == "thompson-budgeted":
            reward = self.rng.beta(1.0 + self.sums, 1.0 + self.counts - self.sums)
            if not self.costed:
                return int(np.argmax(reward))
            return int(np.argmax(reward / self.rng.beta(1.0 + self.costs, 1.0 + self.counts - self.costs)))
        untried = np.flatnonzero(self.counts == 0)
        if untried.size:
            return int(untried[0])
        means = self.sums / self.counts
        if self.policy == "epsgreedy":
            return int(self.rng.integers(self.arms)) if self.rng.random() < self.eps else int(np.argmax(means))
        return int(np.argmax(means + np.sqrt(2 * math.log(self.rounds) / self.counts)))

    def update(self, arm: int, reward: float, cost: float | None = None) -> None:
        """Reward (and, for ``thompson-budgeted``, the call's cost) of playing ``arm``, each clipped to [0, 1]."""
        reward = float(min(max(reward, 0.0), 1.0))
        self.counts[arm] += 1
        self.sums[arm] += reward
        if cost is not None:
            self.costs[arm] += float(min(max(cost, 0.0), 1.0))
            self.costed = True
        if self.policy == "thompson-discounted":
            self.successes *= self.discount
            self.failures *= self.discount
            self.successes[arm] += reward
            self.failures[arm] += 1.0 - reward
        if self.policy == "exp3":
            self.log_weights[arm] += self.gamma * reward / (self.arms * self._last_probabilities[arm])

    def weights(self) -> list[float]:
        """Current preference per arm (means; Exp3's probabilities; thompson-discounted's discounted posterior
        means; thompson-budgeted's posterior mean reward per posterior mean cost), for ``info``."""
        if self.policy == "exp3":
            w = np.exp(self.log_weights - self.log_weights.max())
            return (w / w.sum()).round(4).tolist()
        if self.policy == "thompson-discounted":
            return ((1.0 + self.successes) / (2.0 + self.successes + self.failures)).round(4).tolist()
        if self.policy == "thompson-budgeted" and self.costed:
            return ((1.0 + self.sums) / (1.0 + self.costs)).round(4).tolist()
        return np.divide(self.sums, self.counts, out=np.zeros(self.arms), where=self.counts > 0).round(4).tolist()
