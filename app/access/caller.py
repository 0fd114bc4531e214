"""Who is asking: the project and scopes of the key a request came with."""

import uuid
from dataclasses import dataclass

from app.access.scopes import Scope
from app.db.tables import DEFAULT_PROJECT_ID


@dataclass(frozen=True)
class Caller:
    project_id: uuid.UUID
    """The key's project: where the runs it makes go."""
    scopes: frozenset[Scope]
    key_id: uuid.UUID | None = None
    key_name: str | None = None
    key_prefix: str | None = None
    project: str | None = None
    """The project's name, for the pages' header."""
    rate_limit_per_minute: int | None = None

    @property
    def all_projects(self) -> bool:
        return Scope.ADMIN in self.scopes

    @property
    def visible_project(self) -> uuid.UUID | None:
        """The one project whose runs the caller sees; None: every project."""
        return None if self.all_projects else self.project_id

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes

    def sees(self, project_id: uuid.UUID | None) -> bool:
        """Whether a run of `project_id` (None: no such run) exists for this caller."""
        return project_id is not None and (self.all_projects or project_id == self.project_id)


OPEN = Caller(project_id=DEFAULT_PROJECT_ID, scopes=frozenset(Scope))
"""Everyone, while auth is off: every scope, runs in the default project."""
