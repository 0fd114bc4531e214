"""What a run may cost before it is sent: each contender's prompt tokens (counted or
estimated), the worst case of each pair, and whether a budget can pay for any of it."""

from dataclasses import dataclass

from app.domain import Contender
from app.errors import InvalidFieldError
from app.templates import RenderedPrompt
from app.tokens import Tokenizer


@dataclass(frozen=True)
class ContenderCosts:
    """One contender's prompts: their tokens (all its samples'), and the most each of a
    prompt's pairs can cost (None: unknown, for a model without a price or a contender
    without `max_new_tokens`); a prompt has a pair per sample."""

    contender: Contender
    tokenizer: str
    prompt_tokens: int
    pair_max_costs: list[float | None]

    @property
    def max_cost(self) -> float | None:
        if any(cost is None for cost in self.pair_max_costs):
            return None
        return self.contender.samples * sum(c for c in self.pair_max_costs if c is not None)


def contender_costs(
    contender: Contender, tokenizer: Tokenizer, prompts: list[RenderedPrompt]
) -> ContenderCosts:
    price, most = contender.price, contender.params.max_new_tokens
    return ContenderCosts(
        contender=contender,
        tokenizer=tokenizer.name,
        prompt_tokens=contender.samples * sum(tokenizer.count(p) for p in prompts),
        pair_max_costs=[
            None if price is None else price.cost(tokenizer.bound(p), most) for p in prompts
        ],
    )


def total_max_cost(costs: list[ContenderCosts]) -> float | None:
    each = [c.max_cost for c in costs]
    return None if any(c is None for c in each) else sum(c for c in each if c is not None)


def check_budget(budget_usd: float, costs: list[ContenderCosts]) -> None:
    """Refuse a budget that cannot be kept (a pair whose worst case is unknown) or that
    cannot pay for a single pair."""
    for j, c in enumerate(costs):
        if c.contender.price is None:
            raise InvalidFieldError(
                f"model {c.contender.model!r} (models[{j}]) has no price, so a budget cannot "
                "be kept; give it a `price` in the catalogue, or drop `budget_usd`",
                field="budget_usd",
            )
        if any(cost is None for cost in c.pair_max_costs):
            raise InvalidFieldError(
                f"contender {c.contender.label!r} (models[{j}]) has no `max_new_tokens`, so "
                "the most a pair can cost is unknown; set `params.max_new_tokens`",
                field="budget_usd",
            )
    cheapest = min(cost for c in costs for cost in c.pair_max_costs if cost is not None)
    if cheapest > budget_usd:
        raise InvalidFieldError(
            f"budget {budget_usd:g} USD cannot pay for one pair: the cheapest may cost up to "
            f"{cheapest:.6g} USD",
            field="budget_usd",
        )
