"""What the README tells a user to install and schedule works as written: bulk is not on
the package index, so the nightly job's image is built from this repository's Dockerfile,
and its commands run as the CronJob runs them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pandas as pd
import pytest

from .helpers import KEY, ROOT, cli_env

README = (ROOT / "README.md").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions(*, ns: str = "") -> list[str]:
    """Each instruction of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def of(keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in instructions() if line.split()[0] == keyword]


def test_nothing_tells_a_user_to_install_bulk_from_the_package_index():
    texts = [README, DOCKERFILE] + [p.read_text() for p in (ROOT / "bulk").rglob("*.py")]
    commands = [c for text in texts for c in re.findall(r"pip install[^\n`\"]*", text)]
    assert commands  # the README does say how to install
    from_index = [c for c in commands if "rungen-bulk" in c and "@ git+" not in c]
    assert not from_index, from_index


def test_the_dockerfile_agrees_with_pyproject():
    image = of("FROM")[0]
    version = re.fullmatch(r"python:(\d+\.\d+)-slim", image)
    assert version, image
    assert f">={version[1]}" == PYPROJECT["project"]["requires-python"]
    copied = {source for line in of("COPY") for source in line.split()[:-1]}
    package = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert copied == {"pyproject.toml", PYPROJECT["project"]["readme"], "bulk"}
    assert package == ["bulk*"]
    installs = [line for line in of("RUN") if "pip install" in line]
    assert installs == ["pip install '.[excel]' && rm -rf /src"]
    assert "openpyxl>=3.1" in PYPROJECT["project"]["optional-dependencies"]["excel"]
    user = of("USER")[-1]
    assert user not in ("root", "0")
    assert f"--uid {user}" in " ".join(of("RUN"))
    admitted = (ROOT / ".dockerignore").read_text().split()
    assert {line[1:].rstrip("/") for line in admitted if line.startswith("!")} == copied


def cronjob() -> str:
    return README.split("kind: CronJob", 1)[1].split("```", 1)[0]


def test_the_cronjob_runs_the_image_built_from_the_dockerfile():
    tag = re.search(r"docker build -t (\S+) \.", README)[1]
    job = cronjob()
    assert f"image: {tag}" in job
    assert "pip install" not in job
    user = of("USER")[-1]
    assert "runAsNonRoot: true" in job and f"fsGroup: {user}" in job


def the_job_s_script() -> str:
    lines = cronjob().split("args:\n", 1)[1].splitlines()[1:]
    body = []
    for line in lines:
        if line.strip().startswith("volumeMounts"):
            break
        body.append(line.strip())
    return "\n".join(body)


@pytest.mark.subprocess
@pytest.mark.timeout(180)  # two Pythons of their own, on a machine that may be busy
def test_the_cronjob_s_commands_run_as_written(tmp_path, emulator_thread):
    pd.DataFrame(
        {"name": ["a", "b"], "gpu_tier": "BASIC", "model_url": "https://huggingface.co/x/y"}
    ).to_csv(tmp_path / "apps.csv", index=False)
    script = the_job_s_script()
    with emulator_thread() as emu:
        env = cli_env(emu.url, RUNGEN_MAX_ACTIVE_WORKERS="200")
        env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
        night = subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, env=env, timeout=150)
        names = sorted(emu.names())
        summary = json.loads((tmp_path / "apps.summary.json").read_text())
        again = subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, env=env, timeout=150)
        second = json.loads((tmp_path / "apps.summary.json").read_text())
        assert sorted(emu.names()) == names  # the second night changes nothing
    assert night.returncode == 0
    assert names == ["a", "b"]  # the plan had changes, so the job applied them
    assert summary["exit_code"] == 0 and summary["counts"]["created"] == 2
    assert KEY not in (tmp_path / "apps.summary.json").read_text()
    # A night with nothing to do leaves its own summary, never the last night's.
    assert again.returncode == 0 and second["command"].startswith("python -m bulk plan")
    assert second["counts"].get("unchanged") == 2


@pytest.mark.subprocess
@pytest.mark.timeout(300)  # a build of the package, then two Pythons of their own
def test_the_dockerfile_s_install_works_from_what_it_copies(tmp_path):
    """The Dockerfile's COPY and pip steps, here (no container runtime in CI): from only
    what it copies, bulk and its console entry point install and run."""
    source = tmp_path / "src"
    source.mkdir()
    for line in of("COPY"):
        for name in line.split()[:-1]:
            copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
            copy(ROOT / name, source / name)
    shutil.rmtree(source / "bulk" / "__pycache__", ignore_errors=True)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps"]
    installed = subprocess.run(
        [*pip, "--target", str(site), ".[excel]"],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import bulk; print(bulk.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    entry = of("ENTRYPOINT")[0]
    assert json.loads(entry) == ["python", "-m", "bulk"]
    ran = subprocess.run(
        [sys.executable, "-m", "bulk", "create", "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0 and "--connect-timeout" in ran.stdout
