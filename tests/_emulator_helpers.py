"""Raw-HTTP helpers shared by the emulator's own tests."""

from __future__ import annotations

from typing import Any

import httpx

KEY = {"x-goog-api-key": "test-key"}
BASE = "http://emulator.invalid/v1beta"


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    """POST a create body (a model by default) and return the interaction, which must be 200."""
    body.setdefault("model", "gemini-3-flash-preview")
    response = http.post("/interactions", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
