"""DKIM in a real send: more readers than one signing batch, so the signing process signs
most of them; every message the relay receives verifies with dkimpy, each reader gets one."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dkim
import pytest

from digest.config import DkimSettings
from digest.deliver.compose import Job
from digest.deliver.signing import BATCH, SigningStage
from digest.mime import DkimSigner
from digest.models import OutgoingMessage, RecipientRow
from digest.store import open_db
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import Relay, running_relay
from tests.test_mime_dkim import RSA_PEM, dns

READERS = 2 * BATCH + 7  # the first batch here, then the signing process, and a partial one


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as r:
        yield r


def test_every_message_of_a_signed_send_verifies(tmp_path: Path, relay: Relay) -> None:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    add_articles(
        db,
        [article("o1", ("Opioid Drugs",), NOW - timedelta(days=1))],
        imported=NOW - timedelta(days=1, hours=1),
    )
    for i in range(READERS):
        subscribe(db, f"r{i}@example.com", ("Opioid Drugs",))
    (tmp_path / "dkim.pem").write_bytes(RSA_PEM)
    settings = dataclasses.replace(
        settings_for(path, relay.url, concurrency=3),
        dkim=DkimSettings(
            domain="news.example.com", selector="sel", key_file=str(tmp_path / "dkim.pem")
        ),
    )
    report = send_at(open_db(path), settings, NOW)
    assert report.status == "complete" and report.sent == READERS
    by = relay.by_recipient()
    assert sorted(by) == sorted(f"r{i}@example.com" for i in range(READERS))
    assert all(len(items) == 1 for items in by.values())
    for received in relay.received:
        assert received.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")
        assert dkim.verify(received.data, dnsfunc=dns), received.recipients


def _job(i: int) -> Job:
    row = RecipientRow(i, f"r{i}@example.com", "", "UTC", (1,), None)
    data = f"From: a@news.example.com\r\nTo: r{i}@example.com\r\n\r\nbody {i}\r\n".encode()
    return Job(row, OutgoingMessage("a@news.example.com", row.email, data), ("a",))


def test_the_signing_stage_keeps_order_and_signs_in_another_process() -> None:
    stage = SigningStage(DkimSigner("news.example.com", "sel", RSA_PEM))
    out = list(stage(_job(i) for i in range(READERS)))
    assert [j.row.subscriber_id for j in out] == list(range(READERS))
    assert stage.offloaded == READERS - BATCH  # the first batch was signed here
    assert all(dkim.verify(j.message.data, dnsfunc=dns) for j in out)
    assert list(SigningStage(stage.signer)(iter([]))) == []


def test_a_small_send_signs_here_without_a_process() -> None:
    stage = SigningStage(DkimSigner("news.example.com", "sel", RSA_PEM))
    out = list(stage(_job(i) for i in range(3)))
    assert stage.offloaded == 0 and all(dkim.verify(j.message.data, dnsfunc=dns) for j in out)


def test_a_killed_signing_process_leaves_signing_to_this_one() -> None:
    count = 4 * BATCH + 5
    stage = SigningStage(DkimSigner("news.example.com", "sel", RSA_PEM))
    jobs = stage(_job(i) for i in range(count))
    out = [next(jobs) for _ in range(BATCH + 1)]  # the signing process is now at work
    children = multiprocessing.active_children()
    assert children
    for child in children:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join()
    out += list(jobs)
    assert [j.row.subscriber_id for j in out] == list(range(count))
    assert all(dkim.verify(j.message.data, dnsfunc=dns) for j in out)
    assert stage.offloaded < count - BATCH
