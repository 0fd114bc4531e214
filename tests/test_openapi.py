"""The OpenAPI document is a contract: it changes only on purpose.

`tests/openapi.json` is the document as the service serves it. After a deliberate API change,
regenerate it with `LLM_COMPARE_UPDATE_OPENAPI=1 pytest tests/test_openapi.py` and commit it
with the change, so the diff shows what callers will see.
"""

import json
import os
from pathlib import Path

from app.main import create_app
from tests.support.settings import IsolatedSettings

SNAPSHOT = Path(__file__).with_name("openapi.json")


def test_the_openapi_document_matches_its_snapshot() -> None:
    app = create_app(IsolatedSettings(database_url="postgresql://unused/unused"))
    document = json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("LLM_COMPARE_UPDATE_OPENAPI") == "1":
        SNAPSHOT.write_text(document)
    assert document == SNAPSHOT.read_text(), (
        "the API changed; if on purpose, regenerate tests/openapi.json (see this module)"
    )
