"""Leaderboard benchmark: the time to score V votes over M contenders with B bootstrap resamples.

A benchmark, not a test: run it by hand.

    python -m bench.leaderboard                  # 10,000 votes, 10 contenders, 1,000 resamples
    python -m bench.leaderboard --votes 100000 --contenders 30
"""

import argparse
import time

import numpy as np

from app.judging.ranking import Vote, leaderboard


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=10_000)
    parser.add_argument("--contenders", type=int, default=10)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.contenders
    strengths = np.linspace(-1, 1, n)
    a = rng.integers(0, n, args.votes)
    b = (a + rng.integers(1, n, args.votes)) % n
    a_wins = rng.random(args.votes) < 1 / (1 + np.exp(strengths[b] - strengths[a]))
    votes = [
        Vote(f"m{i}", f"m{j}", "a" if w else "b")
        for i, j, w in zip(a.tolist(), b.tolist(), a_wins.tolist(), strict=True)
    ]

    started = time.perf_counter()
    board = leaderboard(votes, bootstrap=args.bootstrap)
    elapsed = time.perf_counter() - started
    print(
        f"{args.votes} votes, {n} contenders, {args.bootstrap} resamples: {elapsed:.2f} s "
        f"({elapsed / max(args.bootstrap, 1) * 1e3:.2f} ms a resample)"
    )
    best = board.contenders[0]
    print(f"top: {best.label} {best.score:.0f} [{best.ci_low:.0f}, {best.ci_high:.0f}]")


if __name__ == "__main__":
    main()
