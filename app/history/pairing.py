"""Which answers of two runs are compared: prompts paired by key (by text where a prompt has
no key), contenders by label or by the caller's map. Pure: the caller reads the runs.

An answer is paired by (prompt, contender, sample): `AnswerKey`; sample k of one run with
sample k of the other.
"""

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from app.errors import InvalidFieldError

MAP_FIELD = "map"

PromptIdentity = tuple[str, str]
"""("key", the key) or ("text", a digest of the text): what pairs two prompts."""

AnswerKey = tuple[int, int, int]
"""(prompt position, contender index, sample) of one answer within its run."""


def prompt_identity(key: str | None, text_digest: str) -> PromptIdentity:
    return ("key", key) if key is not None else ("text", text_digest)


@dataclass(frozen=True)
class PromptPairs:
    pairs: list[tuple[int, int]]  # (position in a, position in b), in a's order
    only_a: list[int]  # positions of a's prompts without a partner, in order
    only_b: list[int]


def pair_prompts(
    a: Sequence[tuple[int, PromptIdentity]], b: Sequence[tuple[int, PromptIdentity]]
) -> PromptPairs:
    """Prompts with the same identity, in order: the k-th of a with the k-th of b."""
    waiting: defaultdict[PromptIdentity, deque[int]] = defaultdict(deque)
    for position, identity in b:
        waiting[identity].append(position)
    pairs: list[tuple[int, int]] = []
    only_a: list[int] = []
    for position, identity in a:
        partners = waiting.get(identity)
        if partners:
            pairs.append((position, partners.popleft()))
        else:
            only_a.append(position)
    paired_b = {pb for _, pb in pairs}
    return PromptPairs(pairs, only_a, [p for p, _ in b if p not in paired_b])


@dataclass(frozen=True)
class ContenderPairs:
    pairs: list[tuple[int, int]]  # (contender index in a, in b), in a's order
    only_a: list[str]  # labels without a partner
    only_b: list[str]


def _split(given: str, a: Sequence[str], b: Sequence[str]) -> tuple[str, str]:
    """`label_in_a:label_in_b`; labels may hold colons, so every split is tried."""
    splits = [(given[:i], given[i + 1 :]) for i, ch in enumerate(given) if ch == ":"]
    for left, right in splits:
        if left in a and right in b:
            return left, right
    known = [(left, right) for left, right in splits if left in a]
    if not known:
        left = splits[0][0] if splits else given
        raise InvalidFieldError(
            f"map {given!r}: run a has no contender labelled {left!r} "
            f"(its labels: {', '.join(map(repr, a))})",
            field=MAP_FIELD,
        )
    raise InvalidFieldError(
        f"map {given!r}: run b has no contender labelled {known[0][1]!r} "
        f"(its labels: {', '.join(map(repr, b))})",
        field=MAP_FIELD,
    )


def pair_contenders(a: Sequence[str], b: Sequence[str], given: Sequence[str]) -> ContenderPairs:
    """Contenders paired as `given` maps them (`label_in_a:label_in_b`), the others by label."""
    mapped: dict[str, str] = {}
    for item in given:
        left, right = _split(item, a, b)
        if left in mapped or right in mapped.values():
            raise InvalidFieldError(
                f"map {item!r}: {left!r} or {right!r} is mapped twice", field=MAP_FIELD
            )
        mapped[left] = right
    taken = set(mapped.values())
    pairs: list[tuple[int, int]] = []
    for i, label in enumerate(a):
        partner = mapped.get(label, label if label not in taken else None)
        if partner is not None and partner in b:
            pairs.append((i, b.index(partner)))
    paired_a = {a[i] for i, _ in pairs}
    paired_b = {b[j] for _, j in pairs}
    return ContenderPairs(
        pairs, [x for x in a if x not in paired_a], [x for x in b if x not in paired_b]
    )
