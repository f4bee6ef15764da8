"""The API contract's rules for a ``POST /app`` body, as the docs' 400 answers state them."""

from __future__ import annotations

from typing import Any

__all__ = ["GPU_TIERS", "check_body", "check_update"]

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


_UPDATABLE = {"name", "description", "configuration", "workflow"}


def check_update(body: Any, created: list[dict[str, Any]]) -> str | None:
    """The 400 message for a ``PUT /app/{id}`` body, or None. ``created``: the app's LoRAs
    as they were created (all five fields)."""
    if not isinstance(body, dict):
        return "Invalid request body. Expected a JSON object."
    unknown = sorted(set(body) - _UPDATABLE)
    if unknown:
        return f"Invalid request body. '{unknown[0]}' cannot be updated."
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        return "Invalid request body. 'name' must be a non-empty string."
    if "description" in body and not isinstance(body["description"], str):
        return "Invalid request body. 'description' must be a string."
    return _check_configuration(body.get("configuration")) or _check_workflow(
        body.get("workflow"), created
    )


def _check_configuration(config: Any) -> str | None:
    if config is None:
        return None
    if not isinstance(config, dict):
        return "Invalid request body. 'configuration' must be an object."
    for fixed in ("gpu_tier", "location"):
        if fixed in config:
            return (
                f"Invalid request body. 'configuration.{fixed}' cannot be changed; "
                "create a new app."
            )
    unknown = sorted(set(config) - {"active_workers"})
    if unknown:
        return f"Invalid request body. 'configuration.{unknown[0]}' cannot be updated."
    workers = config.get("active_workers")
    if "active_workers" in config and (
        not isinstance(workers, int) or isinstance(workers, bool) or workers < 0
    ):
        return "Invalid request body. 'configuration.active_workers' must be an integer >= 0."
    return None


def _check_workflow(workflow: Any, created: list[dict[str, Any]]) -> str | None:
    if workflow is None:
        return None
    if not isinstance(workflow, dict):
        return "Invalid request body. 'workflow' must be an object."
    if "model_url" in workflow and not isinstance(workflow["model_url"], str):
        return "Invalid request body. 'workflow.model_url' must be a string."
    tools = workflow.get("tools")
    if tools is not None and not isinstance(tools, dict):
        return "Invalid request body. 'workflow.tools' must be an object."
    if tools is None or "loras" not in tools:
        return None
    if not _same_loras(tools["loras"], created):
        return (
            "Invalid request body. Only LoRA weights can be updated: send the same LoRAs as "
            "at creation, all five fields, with new weights."
        )
    return None


def _same_loras(loras: Any, created: list[dict[str, Any]]) -> bool:
    if not isinstance(loras, list) or len(loras) != len(created):
        return False
    fixed = ("id", "versionId", "downloadUrl", "name")
    for given, was in zip(loras, created, strict=True):
        if not isinstance(given, dict) or any(given.get(k) != was.get(k) for k in fixed):
            return False
        weight = given.get("weight")
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            return False
    return True
