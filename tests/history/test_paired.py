"""The run diff's statistics against known values."""

import random

import pytest
from rapidfuzz.distance import Indel

from app.history.paired import (
    EXACT_SIMILARITY_CHARS,
    delta,
    flag_change,
    gate_failures,
    mcnemar_exact,
    paired_change,
    percentiles,
    sample_agreement,
    similarity,
)


def random_text(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("abcde fghij\n") for _ in range(length))


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [(10, 2, 0.03857421875), (2, 10, 0.03857421875), (5, 5, 1.0), (0, 0, 1.0), (0, 6, 0.03125)],
)
def test_mcnemar_exact_matches_the_two_sided_binomial(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_mcnemar_exact_is_symmetric_and_refuses_negative_counts() -> None:
    for b, c in [(3, 9), (1, 0), (17, 4)]:
        assert mcnemar_exact(b, c) == mcnemar_exact(c, b)
    with pytest.raises(ValueError, match="negative"):
        mcnemar_exact(-1, 3)


def test_similarity_is_one_only_for_equal_texts() -> None:
    assert similarity("", "") == 1.0
    assert similarity("The answer is 42.", "The answer is 42.") == 1.0
    assert similarity("The answer is 42.", "The answer is 42") < 1.0
    assert similarity("abc", "") == 0.0
    assert similarity("Paris.", "Paris") == pytest.approx(10 / 11)


def test_similarity_is_symmetric_and_equals_rapidfuzz_indel_on_ordinary_answers() -> None:
    pairs = [(random_text(300, s), random_text(280, s + 100)) for s in range(5)]
    pairs.append(("I think the capital is Paris.", "The capital of France is Paris."))
    for a, b in pairs:
        assert similarity(a, b) == similarity(b, a)
        assert similarity(a, b) == pytest.approx(Indel.normalized_similarity(a, b))


def test_a_long_answer_with_a_small_edit_is_still_compared_exactly() -> None:
    long = random_text(3 * EXACT_SIMILARITY_CHARS, seed=1)
    edited = long[:20_000] + "an inserted sentence. " + long[20_000:]

    assert similarity(long, edited) == pytest.approx(Indel.normalized_similarity(long, edited))
    assert similarity(long, long + "!") < 1.0


def test_very_different_long_answers_get_a_close_lower_bound() -> None:
    a = random_text(3 * EXACT_SIMILARITY_CHARS, seed=2)
    b = random_text(3 * EXACT_SIMILARITY_CHARS + 500, seed=3)
    exact = Indel.normalized_similarity(a, b)

    assert exact - 0.05 < similarity(a, b) <= exact


def test_flag_change_counts_discordant_pairs_and_calls_a_significant_rise_worse() -> None:
    before = [False] * 10 + [True] * 2 + [True] * 3 + [False] * 5
    after = [True] * 10 + [False] * 2 + [True] * 3 + [False] * 5
    change = flag_change(before, after)

    assert (change.only_a, change.only_b, change.pairs) == (2, 10, 20)
    assert (change.rate_a, change.rate_b) == (0.25, 0.65)
    assert change.p_value == pytest.approx(0.03857421875)
    assert change.worse
    assert not flag_change(after, before).worse  # the same change the other way is better
    assert not flag_change(before, after, alpha=0.01).worse


def test_flag_change_on_no_answers_and_on_unpaired_input() -> None:
    empty = flag_change([], [])
    assert (empty.rate_a, empty.rate_b, empty.p_value, empty.worse) == (None, None, 1.0, False)
    with pytest.raises(ValueError, match="paired"):
        flag_change([True], [True, False])


def test_percentiles_skip_missing_values_and_interpolate_like_postgres() -> None:
    assert percentiles([None, 10.0, 20.0, 30.0, 40.0, None]) == percentiles([10, 20, 30, 40])
    got = percentiles([10, 20, 30, 40])
    # percentile_cont(0.95) over 10..40: 30 + 0.85 * 10.
    assert (got.p50, got.n) == (25.0, 4)
    assert got.p95 == pytest.approx(38.5)
    assert percentiles([None, None]) == percentiles([])
    assert percentiles([]).p50 is None


def test_paired_change_reports_b_minus_a_and_survives_failed_answers() -> None:
    change = paired_change([100, 200, None, 400], [150, None, 300, 500])

    assert (change.a.p50, change.b.p50) == (200.0, 300.0)
    assert change.p50_delta == 100.0
    assert change.mean_delta == 75.0  # (50 + 100) / 2: only answers with both latencies
    assert change.pairs == 2
    nothing = paired_change([None], [None])
    assert (nothing.p50_delta, nothing.p95_delta, nothing.mean_delta) == (None, None, None)
    assert delta(None, 3.0) is None
    assert delta(2.0, 3.0) == 1.0


def test_sample_agreement_over_all_pairs_of_samples() -> None:
    got = sample_agreement(["yes", "yes", "no"])

    assert got.pairs == 3
    assert got.share_identical == pytest.approx(1 / 3)
    assert got.mean_similarity == pytest.approx((1 + 2 * similarity("yes", "no")) / 3)
    assert sample_agreement(["same"] * 4).mean_similarity == 1.0
    one = sample_agreement(["alone"])
    assert (one.share_identical, one.mean_similarity, one.pairs) == (None, None, 0)


def test_the_gate_fails_on_a_worse_flag_or_too_many_changed_answers() -> None:
    worse = flag_change([False] * 10 + [True] * 2, [True] * 10 + [False] * 2)
    steady = flag_change([True, False], [False, True])

    assert gate_failures({"truncated": steady}, changed_share=0.1, max_changed_share=0.2) == []
    (reason,) = gate_failures({"repetition": worse, "truncated": steady})
    assert reason.startswith("repetition: 16.7% → 83.3%")
    (reason,) = gate_failures({}, changed_share=0.3, max_changed_share=0.2)
    assert "30.0% of answers changed" in reason
