"""Samples' agreement pooled over prompts, and each sample's seed."""

import pytest

from app.domain import Contender, GenerationParams
from app.fields import SEED_MAX
from app.similarity import pooled_agreement, similarity


def test_agreement_pools_every_pair_of_samples_of_each_prompt() -> None:
    got = pooled_agreement([["a", "a", "a"], ["yes", "no"], ["alone"]])
    assert got.pairs == 3 + 1
    assert got.share_identical == pytest.approx(3 / 4)
    assert got.mean_similarity == pytest.approx((3 + similarity("yes", "no")) / 4)
    nothing = pooled_agreement([["alone"], []])
    assert (nothing.share_identical, nothing.mean_similarity, nothing.pairs) == (None, None, 0)


@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (None, [None, None, None]),
        (7, [7, 8, 9]),
        (SEED_MAX - 1, [SEED_MAX - 1, SEED_MAX, SEED_MAX - 3]),
    ],
)
def test_each_sample_has_its_own_seed(seed: int | None, expected: list[int | None]) -> None:
    contender = Contender(
        label="c", model="m", template="raw", params=GenerationParams(seed=seed), samples=3
    )
    assert [contender.sample_params(k).seed for k in range(3)] == expected
