"""Run data is private by default: the data directory 0700, its databases (and SQLite's
write-ahead log) 0600; `agentlab doctor` warns about what other users could read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.cli import agentlab


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_and_its_databases_are_private(env, tmp_path):
    data = tmp_path / "data"
    ran = agentlab(env, "demo")
    assert ran.returncode == 0, ran.stderr
    assert mode(data) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"runs.sqlite", "support.sqlite"}
    for path in files:
        assert mode(path) & 0o077 == 0, f"{path} is {mode(path):04o}"
    assert mode(data / "demo") == 0o700


def test_doctor_warns_about_data_other_users_can_read(env, tmp_path):
    data = tmp_path / "data"
    assert agentlab(env, "demo").returncode == 0
    assert "warning" not in agentlab(env, "doctor").stdout
    os.chmod(data, 0o755)
    os.chmod(data / "runs.sqlite", 0o644)
    checked = agentlab(env, "doctor")
    assert checked.returncode == 0, checked.stderr  # a warning, not a problem of the database
    assert f"warning: {data} is open to other users (mode 0755): chmod 700 {data}" in checked.stdout
    runs = data / "runs.sqlite"
    assert f"warning: {runs} is open to other users (mode 0644): chmod 600 {runs}" in checked.stdout
