"""The SQL of a diff: what pairs two runs' prompts, and the answers of the paired ones.

Every read is one run's rows in a closed range of positions, or at positions looked up one at
a time (app/runs/repository.py's `responses_at`): no plan reads another run's rows, or the
whole of this one for a page, whatever the planner's statistics say.
"""

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import PromptRow
from app.history.pairing import PromptIdentity, prompt_identity

# Prompts read a statement at a time when pairing two runs.
IDENTITY_PAGE = 10_000


async def prompt_identities(
    session: AsyncSession, run_id: uuid.UUID, prompt_count: int
) -> AsyncIterator[tuple[int, PromptIdentity]]:
    """Each prompt's position and identity, in order: its key, or a digest of its text where
    it has none (so that a run of long prompts is paired without reading them whole)."""
    digest = case((PromptRow.key.is_(None), func.md5(PromptRow.text)), else_="")
    for first in range(0, prompt_count, IDENTITY_PAGE):
        query = (
            select(PromptRow.position, PromptRow.key, digest)
            .where(
                PromptRow.run_id == run_id,
                PromptRow.position >= first,
                PromptRow.position < first + IDENTITY_PAGE,
            )
            .order_by(PromptRow.position)
        )
        for position, key, text_digest in await session.execute(query):
            yield position, prompt_identity(key, text_digest)
