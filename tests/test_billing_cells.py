"""active_workers is a billing field: its text is plain digits (a sign, a trailing .0),
never Python's own number forms, which would turn a typo into a thousand workers."""

from __future__ import annotations

import pandas as pd

from .helpers import URL, cli_env, run_cli


def test_python_number_forms_make_the_row_invalid_naming_the_field(tmp_path, emulator_thread):
    cells = ["1_000", "1e3", "２", "2", "3.0", " 4 "]
    names = [f"app-{i}" for i in range(len(cells))]
    lines = ["name,gpu_tier,model_url,active_workers"]
    lines += [f'{n},BASIC,{URL},"{c}"' for n, c in zip(names, cells, strict=True)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with emulator_thread() as emu:
        done = run_cli("create", "m.csv", cwd=tmp_path, env=cli_env(emu.url))
        sent = {b["name"]: b["configuration"]["active_workers"] for b in emu.record.bodies}
    results = pd.read_csv(tmp_path / "m.results.csv", keep_default_na=False)
    assert done.returncode == 1
    assert list(results.status) == ["invalid"] * 3 + ["created"] * 3
    for row, error in enumerate(results.error[:3], 1):
        assert error.startswith(f"row {row} (line {row + 1}): active_workers: must be a whole")
    assert "write plain digits (1000, not 1_000 or 1e3)" in results.error[0]
    assert sent == {"app-3": 2, "app-4": 3, "app-5": 4}
