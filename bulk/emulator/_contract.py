"""The API contract's rules for a ``POST /app`` body, as the docs' 400 answers state them."""

from __future__ import annotations

from typing import Any

__all__ = ["GPU_TIERS", "check_body"]

GPU_TIERS = ("BASIC", "STANDARD", "PERFORMANCE")
LORA_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "versionId": str,
    "downloadUrl": str,
    "name": str,
    "weight": (int, float),
}


def _missing(field: str) -> str:
    return f"Invalid request body. Missing required field: '{field}'."


def check_body(body: Any) -> str | None:
    """The docs' 400 answers: the first problem found, or None."""
    if not isinstance(body, dict):
        return "Invalid request body. Expected a JSON object."
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        return _missing("name")
    config, workflow = body.get("configuration"), body.get("workflow")
    if not isinstance(config, dict):
        return _missing("configuration")
    if config.get("gpu_tier") not in GPU_TIERS:
        return "Invalid request body. 'configuration.gpu_tier' must be one of " + ", ".join(
            GPU_TIERS
        )
    workers = config.get("active_workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)):
        return "Invalid request body. 'configuration.active_workers' must be an integer."
    if not isinstance(workflow, dict):
        return _missing("workflow")
    if not isinstance(workflow.get("model_url"), str):
        return _missing("workflow.model_url")
    loras = (workflow.get("tools") or {}).get("loras", [])
    if not isinstance(loras, list):
        return "Invalid request body. 'workflow.tools.loras' must be an array."
    for i, lora in enumerate(loras):
        for field, kind in LORA_TYPES.items():
            if not isinstance(lora, dict) or field not in lora:
                return _missing(f"workflow.tools.loras[{i}].{field}")
            if not isinstance(lora[field], kind) or isinstance(lora[field], bool):
                return (
                    f"Invalid request body. 'workflow.tools.loras[{i}].{field}' has a wrong type."
                )
    return None
