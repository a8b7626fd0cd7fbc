"""The install step (`make setup`, which `.ci/run` reaches through `make test`)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_setup_refuses_a_disk_too_full_for_torch_before_creating_the_venv(tmp_path: Path) -> None:
    # A full disk used to surface as pip's OSError a minute into the download; the check must
    # stop first, say how much room is needed and how much there is, and leave nothing behind.
    venv = tmp_path / "venv"
    done = subprocess.run(
        ["make", "-C", str(REPO), f"VENV={venv}", "MIN_FREE_GB=1000000", f"{venv}/bin/.installed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "needs about 1000000 GB free" in done.stderr
    assert "GB free here" in done.stderr
    assert not venv.exists()
