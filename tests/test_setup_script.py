"""scripts/setup.sh's first step: the Debian packages, or NO_SYSTEM_PACKAGES=1 where they cannot be had."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _fake_env(tmp_path):
    """A venv that counts as installed (so only step 1 acts) and dpkg-query/apt-get that log their calls."""
    venv, bin_ = tmp_path / "venv", tmp_path / "bin"
    (venv / "bin").mkdir(parents=True)
    bin_.mkdir()
    (venv / "bin" / "python").symlink_to(sys.executable)
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + (REPO / "scripts" / "setup.sh").read_bytes())
    (venv / ".course-installed").write_text(want.hexdigest()[:16] + "\n")
    log = tmp_path / "calls.log"
    for tool in ("dpkg-query", "apt-get"):
        (bin_ / tool).write_text(f"#!/bin/sh\necho {tool} >> {log}\nexit 1\n")
        (bin_ / tool).chmod(0o755)
    env = {**os.environ, "VENV": str(venv), "PATH": f"{bin_}:{os.environ['PATH']}"}
    env.pop("NO_SYSTEM_PACKAGES", None)
    return venv, env, log


def run(env):
    return subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=120)


def test_no_system_packages_skips_apt_and_is_remembered(tmp_path):
    venv, env, log = _fake_env(tmp_path)
    first = run({**env, "NO_SYSTEM_PACKAGES": "1"})
    assert first.returncode == 0, first.stderr
    assert "room kit" in first.stdout and not log.exists()  # no package was even looked up
    assert (venv / ".no-system-packages").exists()
    again = run(env)  # a later `make` target, without the variable
    assert again.returncode == 0 and not log.exists()


def test_without_it_the_packages_are_looked_up(tmp_path):
    venv, env, log = _fake_env(tmp_path)
    if os.geteuid() == 0:  # as root, setup would apt-get install them: the fake apt-get fails instead
        result = run(env)
        assert result.returncode != 0 and "apt-get" in log.read_text()
    else:
        result = run(env)
        assert result.returncode == 1 and "NO_SYSTEM_PACKAGES=1" in result.stderr
    assert "dpkg-query" in log.read_text() and not (venv / ".no-system-packages").exists()
