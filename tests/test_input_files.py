"""Imports read only regular files (#12): a FIFO, a device or a directory where a file is
expected is one line naming the path, never a process blocked for ever. The CLI through
click, against real database files and a real FIFO."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import cli
from digest.errors import InputError
from digest.store import open_db
from tests.builders import app_for, make_db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "digest.db"
    make_db(path).close()
    return path


def run_unblocked(fifo: Path | None, args: list[str]) -> Result:
    """Run the CLI on a thread; if it blocks on ``fifo`` (waiting for a writer), become the
    writer so the test fails instead of hanging."""
    results: list[Result] = []
    done = threading.Event()

    def invoke() -> None:
        try:
            results.append(CliRunner().invoke(cli, args))
        finally:
            done.set()

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    if not done.wait(10):
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
        pytest.fail(f"{args} blocked")
    [result] = results
    return result


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "readers.csv"
    os.mkfifo(path)
    return path


def test_subscribers_import_refuses_a_fifo(db_path: Path, fifo: Path) -> None:
    result = run_unblocked(fifo, ["--db", str(db_path), "subscribers", "import", str(fifo)])
    assert (result.exit_code, result.output) == (1, f"Error: {fifo}: not a regular file\n")


def test_subscribers_import_refuses_a_device(db_path: Path) -> None:
    result = run_unblocked(None, ["--db", str(db_path), "subscribers", "import", os.devnull])
    assert (result.exit_code, result.output) == (1, f"Error: {os.devnull}: not a regular file\n")


def test_the_core_refuses_a_directory_for_a_subscribers_csv(db_path: Path, tmp_path: Path) -> None:
    # The CLI's click.Path(dir_okay=False) answers first; every other way in reaches this.
    db = open_db(db_path)
    try:
        with pytest.raises(InputError) as info:
            app_for(db).import_subscribers(str(tmp_path))
        assert str(info.value) == f"{tmp_path}: not a regular file"
    finally:
        db.close()


def test_bounces_import_refuses_a_fifo_and_a_device(db_path: Path, fifo: Path) -> None:
    for source in (str(fifo), os.devnull):
        result = run_unblocked(fifo, ["--db", str(db_path), "bounces", "import", source])
        assert (result.exit_code, result.output) == (
            1,
            f"Error: {source}: not a regular file\n",
        ), source


def test_bounces_import_refuses_a_fifo_inside_a_folder_of_messages(
    db_path: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "bounces"
    folder.mkdir()
    trap = folder / "trap.eml"
    os.mkfifo(trap)
    result = run_unblocked(trap, ["--db", str(db_path), "bounces", "import", str(folder)])
    assert (result.exit_code, result.output) == (1, f"Error: {trap}: not a regular file\n")
