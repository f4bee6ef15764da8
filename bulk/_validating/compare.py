"""What a manifest row would do to the live apps of its name: the one comparison behind
``plan`` and ``apply``. Pure, no I/O.

A field the manifest leaves empty is not managed by it and never differs. A field PUT can
change (description, active workers, model URL, LoRA weights) makes an ``update``; one it
cannot (GPU tier, location, the set of LoRAs) a ``replace``, which bulk never carries out:
deleting an app is for a person to decide. LoRAs a listing does not show are unknown, not
different (the docs' listings do not always echo them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._shared import jsoncodec

__all__ = ["Judgement", "PlanAction", "judge", "unshown", "unshown_in"]

# What apply would do to a row, every value of a plan's ``action`` column: "invalid" for a
# row that is not valid, or a create that lacks LoRA fields listings never show.
PlanAction = Literal["create", "unchanged", "update", "replace", "conflict", "invalid"]
UNSHOWN = ("versionId", "downloadUrl")


@dataclass(frozen=True, slots=True)
class Judgement:
    """``action``: create, unchanged, update, replace, conflict, or invalid (a create
    or a LoRA weight change that needs the LoRA fields the row lacks: ``error``)."""

    action: PlanAction
    app_id: str | None = None
    changes: tuple[str, ...] = ()  # what PUT changes, e.g. "active_workers: 0 -> 2"
    fixed: tuple[str, ...] = ()  # what PUT cannot change
    put: dict[str, Any] = field(default_factory=dict)  # the PUT body: changed fields only
    workers_before: int = 0  # active workers of the live app
    workers_after: int = 0  # once applied
    ids: tuple[str, ...] = ()  # of a conflict: every app of that name
    error: str | None = None


def unshown(body: Mapping[str, Any]) -> str | None:
    """What the row lacks of the LoRA fields listings never show (an exported manifest
    cannot hold them), or None: enough for a plan and for updates of other fields."""
    parts = []
    for n, lora in enumerate(_loras(body), 1):
        missing = [f for f in UNSHOWN if f not in lora]
        if missing:
            parts.append(f"loras[{n}] (id {lora['id']}) has no {' or '.join(missing)}")
    if not parts:
        return None
    return (
        "; ".join(parts) + ": the server does not show these fields, so they must be given "
        "to create the app or to change its LoRA weights"
    )


def unshown_in(payload: bytes) -> str | None:
    """``unshown`` of a serialised body; only a body with LoRAs is read again."""
    return unshown(jsoncodec.loads(payload)) if b'"loras"' in payload else None


def judge(body: Mapping[str, Any], apps: Sequence[Mapping[str, Any]]) -> Judgement:
    """The action for a valid row's ``body``, given the live ``apps`` of its name."""
    wanted = _workers(body.get("configuration"))
    if not apps:
        error = unshown(body)
        if error:
            return Judgement("invalid", error=error)
        return Judgement("create", workers_after=wanted or 0)
    if len(apps) > 1:
        return Judgement("conflict", ids=tuple(str(app.get("id")) for app in apps))
    app = apps[0]
    before = _workers(app.get("configuration")) or 0
    changes, put = _updates(body, app)
    fixed = _fixed(body, app)
    action: PlanAction
    if fixed:
        action, after = "replace", before
    else:
        action = "update" if changes else "unchanged"
        after = wanted if wanted is not None else before
    app_id = str(app.get("id"))
    if "tools" in put.get("workflow", {}) and (error := unshown(body)):
        return Judgement("invalid", app_id, tuple(changes), (), {}, before, before, error=error)
    return Judgement(action, app_id, tuple(changes), tuple(fixed), put, before, after)


def _workers(configuration: Any) -> int | None:
    value = configuration.get("active_workers") if isinstance(configuration, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _describe(field: str, old: Any, new: Any) -> str:
    return f"{field}: {_show(old)} -> {_show(new)}"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _updates(body: Mapping[str, Any], app: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    changes: list[str] = []
    put: dict[str, Any] = {}
    if "description" in body and body["description"] != app.get("description"):
        changes.append(_describe("description", app.get("description"), body["description"]))
        put["description"] = body["description"]
    wanted, live = _workers(body["configuration"]), _workers(app.get("configuration"))
    if wanted is not None and wanted != (live or 0):
        changes.append(f"active_workers: {live or 0} -> {wanted}")
        put["configuration"] = {"active_workers": wanted}
    workflow, shown = body["workflow"], app.get("workflow") or {}
    if workflow["model_url"] != shown.get("model_url"):
        changes.append(_describe("model_url", shown.get("model_url"), workflow["model_url"]))
        put.setdefault("workflow", {})["model_url"] = workflow["model_url"]
    weights = _weights(_loras(body), _shown_loras(app))
    if weights:
        changes.extend(weights)
        put.setdefault("workflow", {})["tools"] = {"loras": _loras(body)}
    return changes, put


def _fixed(body: Mapping[str, Any], app: Mapping[str, Any]) -> list[str]:
    fixed = []
    wanted, live = body["configuration"], app.get("configuration") or {}
    for key in ("gpu_tier", "location"):
        if key in wanted and wanted[key] != live.get(key):
            fixed.append(_describe(key, live.get(key), wanted[key]))
    shown = _shown_loras(app)
    if shown is not None:
        mine = sorted(str(lora["id"]) for lora in _loras(body))
        theirs = sorted(str(lora.get("id")) for lora in shown)
        if mine != theirs:
            fixed.append(f"loras: {', '.join(theirs) or 'none'} -> {', '.join(mine) or 'none'}")
    return fixed


def _loras(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    loras: list[dict[str, Any]] = (body["workflow"].get("tools") or {}).get("loras", [])
    return loras


def _shown_loras(app: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The LoRAs the listing shows; None when it shows none (unknown, not different)."""
    tools = (app.get("workflow") or {}).get("tools")
    loras = tools.get("loras") if isinstance(tools, Mapping) else None
    return [lora for lora in loras if isinstance(lora, Mapping)] if loras else None


def _weights(mine: list[dict[str, Any]], shown: list[Mapping[str, Any]] | None) -> list[str]:
    if shown is None:
        return []
    live = {str(lora.get("id")): lora.get("weight") for lora in shown}
    return [
        f"lora {lora['id']} weight: {live[str(lora['id'])]} -> {lora['weight']}"
        for lora in mine
        if str(lora["id"]) in live and live[str(lora["id"])] != lora["weight"]
    ]
