"""The one table of file formats by extension, shared by reading (manifests, LoRA tables)
and writing (results files), below both."""

from __future__ import annotations

from pathlib import Path

from .errors import ManifestError

__all__ = ["EXTENSIONS", "format_of"]

EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
}


def format_of(path: Path, what: str) -> str:
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(EXTENSIONS))
        ext = path.suffix or "(none)"
        raise ManifestError(f"{what} {str(path)!r}: unknown extension {ext!r}; use one of {known}")
    if path.is_dir():
        raise ManifestError(f"{what} {str(path)!r} is a folder, not a file; give the file in it")
    if not path.is_file():
        raise ManifestError(f"{what} {str(path)!r} not found")
    return kind
