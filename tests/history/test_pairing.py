"""Which prompts and contenders of two runs pair: the rules, without a database."""

import pytest

from app.errors import InvalidFieldError
from app.history.pairing import pair_contenders, pair_prompts, prompt_identity


def _prompts(*items: tuple[str | None, str]) -> list[tuple[int, tuple[str, str]]]:
    return [(i, prompt_identity(key, text)) for i, (key, text) in enumerate(items)]


def test_prompts_pair_by_key_else_by_text_the_kth_repeat_with_the_kth() -> None:
    a = _prompts(("k1", "x"), (None, "same"), (None, "same"), (None, "only a"), (None, "same"))
    b = _prompts((None, "same"), ("k1", "reworded"), (None, "same"), ("k2", "k"), (None, "x"))
    found = pair_prompts(a, b)
    assert found.pairs == [(0, 1), (1, 0), (2, 2)]
    assert found.only_a == [3, 4]
    assert found.only_b == [3, 4]


def test_a_keyed_prompt_never_pairs_with_a_keyless_one() -> None:
    found = pair_prompts(_prompts(("k", "hello")), _prompts((None, "hello")))
    assert (found.pairs, found.only_a, found.only_b) == ([], [0], [0])


def test_contenders_pair_by_label_unless_mapped() -> None:
    found = pair_contenders(["ckpt-41", "base", "x"], ["base", "ckpt-42", "y"], ["ckpt-41:ckpt-42"])
    assert found.pairs == [(0, 1), (1, 0)]
    assert (found.only_a, found.only_b) == (["x"], ["y"])


def test_a_label_mapped_away_is_not_also_paired_by_name() -> None:
    found = pair_contenders(["a", "b"], ["a", "b"], ["a:b"])
    assert found.pairs == [(0, 1)]
    assert (found.only_a, found.only_b) == (["b"], ["a"])


def test_labels_with_colons_are_split_where_both_sides_exist() -> None:
    found = pair_contenders(["m:1", "z"], ["m:2"], ["m:1:m:2"])
    assert found.pairs == [(0, 0)]


@pytest.mark.parametrize(
    ("given", "words"),
    [
        (["nope:b"], "run a has no contender labelled 'nope'"),
        (["a:nope"], "run b has no contender labelled 'nope'"),
        (["a:b", "a:c"], "mapped twice"),
        (["a:b", "c:b"], "mapped twice"),
    ],
)
def test_a_bad_map_names_the_label(given: list[str], words: str) -> None:
    with pytest.raises(InvalidFieldError, match=words) as raised:
        pair_contenders(["a", "c"], ["b", "c"], given)
    assert raised.value.field == "map"
