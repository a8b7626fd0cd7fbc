"""A sweep folder keeps every multirun command's record (resnet_exp.sweep_record)."""

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from test_config import CONF

from resnet_exp.sweep_record import KeepSweepRecords, keep_earlier_record


def test_nothing_to_keep_in_a_new_sweep_folder(tmp_path: Path) -> None:
    assert keep_earlier_record(tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_the_earlier_record_is_renamed_after_its_write_time_and_never_overwritten(
    tmp_path: Path,
) -> None:
    current = tmp_path / "multirun.yaml"
    stamp = 1796465940  # 2026-12-05 10:19:00 UTC
    for n, text in enumerate(["first command\n", "second command\n"]):
        current.write_text(text)
        os.utime(current, (stamp, stamp))  # both written in the same second
        kept = keep_earlier_record(tmp_path)
        assert kept is not None and not current.exists()
        assert kept.name == ("multirun-2026-12-05T10-19-00" + ("-1" if n else "") + ".yaml")
        assert kept.read_text() == text
    assert len(list(tmp_path.glob("multirun-*.yaml"))) == 2


@pytest.mark.parametrize("command", ["train", "probe", "lesion", "landscape"])
def test_every_command_with_multirun_sweeps_runs_the_callback(command: str) -> None:
    overrides = ["from=RUN"] if command in ("lesion", "landscape") else []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(command, overrides=overrides, return_hydra_config=True)
    assert get_class(cfg.hydra.callbacks.keep_records._target_) is KeepSweepRecords
