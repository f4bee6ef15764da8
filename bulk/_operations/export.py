"""``export``: a team's live apps written as a manifest, so that ``plan`` against the
same team finds every row ``unchanged``: the way to adopt apps made by other means.

The LoRAs are what the listing shows. Listings do not echo ``versionId`` and
``downloadUrl``, so an exported LoRA usually has neither; such a row plans and updates
other fields fine, and is ``invalid`` only for a create or a LoRA weight change."""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from .._output.results import write_atomically
from .._reading.manifest import FIELDS, LORA_FIELDS
from .._running.sync import blocking
from .._shared import jsoncodec
from .._shared.errors import UsageError
from .._shared.extensions import EXTENSIONS
from .status import LiveOptions, listed_teams

__all__ = ["EXPORT_COLUMNS", "aexport", "check_export_output", "export", "export_frame"]

EXPORT_COLUMNS = FIELDS[: FIELDS.index("team_id")]  # a manifest's, the team apart


def check_export_output(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """A manifest format, a folder that exists, and no file replaced unless ``force``."""
    out = Path(path)
    if out.suffix.lower() not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UsageError(f"output {str(out)!r}: unknown extension; use one of {known}")
    if not out.parent.is_dir():
        raise UsageError(f"output {str(out)!r}: folder {str(out.parent)!r} does not exist")
    if out.exists() and not force:
        raise UsageError(
            f"output {str(out)!r} exists: export replaces no file unless --force (force=True)"
        )
    return out


def _loras_cell(app: dict[str, Any]) -> str | None:
    shown = ((app.get("workflow") or {}).get("tools") or {}).get("loras") or []
    kept = [{f: lora[f] for f in LORA_FIELDS if f in lora} for lora in shown if lora]
    return jsoncodec.dumps(kept).decode() if kept else None


def _manifest_row(app: dict[str, Any]) -> tuple[Any, ...]:
    config, workflow = app.get("configuration") or {}, app.get("workflow") or {}
    return (
        app.get("name"),
        app.get("description"),
        config.get("gpu_tier"),
        config.get("active_workers"),
        config.get("location"),
        workflow.get("model_url"),
        _loras_cell(app),
    )


async def export_frame(options: LiveOptions, *, force: bool = False) -> pd.DataFrame:
    """``aexport`` taking its options as one object."""
    out = None if options.output is None else check_export_output(options.output, force=force)
    team = options.team_id or ""
    listed, report = await listed_teams((team,), options)
    frame = pd.DataFrame([_manifest_row(app) for app in listed[team]], columns=list(EXPORT_COLUMNS))
    frame["active_workers"] = frame["active_workers"].astype("Int64")
    if team:
        frame["team_id"] = team
    frame = frame.sort_values("name", ignore_index=True)
    repeated = sorted(n for n, k in Counter(frame["name"]).items() if k > 1)
    warnings = [_repeated(repeated)] if repeated else []
    written = None if out is None else str(write_manifest(frame, out))
    frame.attrs.update(report=report, warnings=warnings, output=written)
    return frame


def _repeated(names: list[str]) -> str:
    return (
        f"{len(names)} names are held by more than one app ({', '.join(map(repr, names))}): "
        "plan reports those rows invalid until the apps are renamed or deleted"
    )


def write_manifest(frame: pd.DataFrame, path: Path) -> Path:
    """In the format the extension names, whole or not at all."""
    kind, suffix = EXTENSIONS[path.suffix.lower()], path.suffix.lower()
    if kind == "xlsx":
        buffer = io.BytesIO()
        try:
            frame.to_excel(buffer, index=False)
        except ImportError:
            raise UsageError("an .xlsx manifest needs openpyxl: pip install openpyxl") from None
        return write_atomically(path, lambda out: out.write(buffer.getvalue()))

    def write(out: BinaryIO) -> None:
        if kind == "parquet":
            frame.to_parquet(out, index=False)
        elif kind == "jsonl":
            text = frame.to_json(orient="records", lines=True, force_ascii=False) or ""
            out.write(text.encode())
        else:
            frame.to_csv(out, index=False, sep="\t" if suffix == ".tsv" else ",")

    return write_atomically(path, write)


async def aexport(*, force: bool = False, **options: Any) -> pd.DataFrame:
    """The live apps of ``team_id`` (None: the key's own) as a manifest (name,
    description, gpu_tier, active_workers, location, model_url, loras, and team_id for a
    team), written to ``output=`` in any manifest format (``force=True`` replaces a
    file). ``plan`` of it against the same team finds every row ``unchanged``.
    ``options``: the fields of ``LiveOptions``."""
    return await export_frame(LiveOptions(**options), force=force)


def export(*, force: bool = False, **options: Any) -> pd.DataFrame:
    """``aexport`` for synchronous code and notebooks; same arguments, same table."""

    async def call(_: None, given: LiveOptions) -> pd.DataFrame:
        return await export_frame(given, force=force)

    return blocking(call, None, LiveOptions(**options))
