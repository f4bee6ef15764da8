"""What a journal is bound to: the target (server, teams, key) and a digest of the rows,
so that ``--resume`` never finishes one run's work with another's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FORMAT", "Binding"]

FORMAT = 2  # the journal's format version


@dataclass(frozen=True)
class Binding:
    """What a journal is bound to."""

    base_url: str
    teams: tuple[str, ...]  # teams of the rows; "" for the user's own apps
    key: str  # the key's fingerprint
    digest: str  # the RowsDigest of the manifest

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT,
            "base_url": self.base_url,
            "teams": list(self.teams),
            "key": self.key,
            "digest": self.digest,
        }

    def differences(self, earlier: dict[str, Any]) -> list[str]:
        """How the earlier run's target (its start line) differs from this one."""
        if earlier.get("version") != FORMAT:
            return ["the journal was written by another version of bulk"]
        found = []
        if earlier.get("base_url") != self.base_url:
            found.append(f"it went to {earlier.get('base_url')}, this run to {self.base_url}")
        if earlier.get("teams") != list(self.teams):
            found.append(
                f"it was for team(s) {_teams(earlier.get('teams'))}, "
                f"this run for {_teams(list(self.teams))}"
            )
        if earlier.get("key") != self.key:
            found.append("it used another API key")
        rows, teams = str(earlier.get("digest")).partition("-")[::2]
        if rows != self.digest.partition("-")[0]:
            found.append("the manifest's rows (or its LoRA table) changed since")
        elif teams != self.digest.partition("-")[2] and earlier.get("teams") == list(self.teams):
            found.append("rows moved from one team to another since")
        return found


def _teams(teams: Any) -> str:
    if not isinstance(teams, list) or not teams:
        return "(none)"
    shown = ", ".join(repr(t) if t else "(your own apps)" for t in teams[:5])
    return shown + (f" and {len(teams) - 5} more" if len(teams) > 5 else "")
