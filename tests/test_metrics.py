"""/metrics (Prometheus text, parsed back with prometheus-client's own parser) after real
work: a send to the test relay, sign-ups, webhooks, and `digest schedule run` as another
process; and the JSON log lines of the long-running commands."""

from __future__ import annotations

import json
import logging
import signal
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from digest.app import App
from digest.cli import cli
from digest.cli.logs import JsonFormatter
from digest.config import Settings
from digest.tokens import ConfirmClaim, address_tag
from digest.web import create_app
from tests.builders import NOW, add_articles, article, make_db, settings_for
from tests.relay import running_relay
from tests.test_schedule_daemon import Digest
from tests.test_schedule_daemon import setup as daemon_setup
from tests.webhook_receiver import running_receiver

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(settings: Settings, token: str) -> Samples:
    client = create_app(settings, clock=lambda: NOW).test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/plain;version=0.0.4"}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def _readers(tmp_path: Path, relay_url: str, count: int) -> tuple[Settings, App]:
    path = tmp_path / "m.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Courts",), yesterday)], imported=yesterday)
    db.close()
    settings = settings_for(path, relay_url)
    core = App.open(settings, clock=lambda: NOW)
    for i in range(count):
        core.add_subscriber(f"r{i}@example.com", ["Courts"])
    return settings, core


def test_counters_move_after_a_real_send(tmp_path: Path) -> None:
    with running_relay() as relay:
        settings, core = _readers(tmp_path, relay.url, 3)
        token = core.add_api_key("prometheus", "read").token
        relay_label = f"127.0.0.1:{relay.port}"
        before = scrape(settings, token)
        assert value(before, "digest_messages_total", relay=relay_label, outcome="sent") == 0
        assert value(before, "digest_reader_events_total", event="subscribed") == 3
        edition = core.open_edition("weekly", NOW)
        opened = scrape(settings, token)
        assert value(opened, "digest_queue_depth") == 3
        assert value(opened, "digest_editions", status="sending") == 1
        relay.on_rcpt = lambda a: "550 5.1.1 no such user" if a.startswith("r2@") else None
        report = core.send("weekly", NOW, edition=edition)
        assert (report.sent, report.bounced) == (2, 1)
        relay.wait_for_count(2)
    after = scrape(settings, token)
    assert value(after, "digest_messages_total", relay=relay_label, outcome="sent") == 2
    assert value(after, "digest_messages_total", relay=relay_label, outcome="failed") == 1
    assert value(after, "digest_messages_total", relay=relay_label, outcome="deferred") == 0
    assert value(after, "digest_queue_depth") == 0
    assert value(after, "digest_editions", status="sent") == 1
    assert value(after, "digest_reader_events_total", event="bounced") == 1
    assert value(after, "digest_edition_send_seconds", frequency="weekly") == 0  # frozen clock
    # A second scrape of the same process reads the complete edition from its cache.
    assert scrape(settings, token) == after


def test_sign_ups_confirmations_and_webhooks_are_counted(tmp_path: Path) -> None:
    with running_relay() as relay, running_receiver() as receiver:
        settings, core = _readers(tmp_path, relay.url, 1)
        token = core.add_api_key("prometheus", "read").token
        core.add_webhook(receiver.url, ["confirmed", "unsubscribed"])
        job, _ = core.api_sign_up("new@example.com", ["Courts"])
        claim = ConfirmClaim(job.request_id, job.nonce, address_tag("new@example.com"))
        assert core.confirm(claim, "192.0.2.1") == "confirmed"
        core.unsubscribe("r0@example.com")
        receiver.status = 500
        assert core.deliver_webhooks().retrying == 2
        failing = scrape(settings, token)
        assert value(failing, "digest_webhook_failures_total") == 2
        assert value(failing, "digest_webhook_outbox") == 2
        receiver.status = 200
        core.clock = lambda: NOW + timedelta(minutes=5)
        assert core.deliver_webhooks().delivered == 2
    samples = scrape(settings, token)
    assert value(samples, "digest_reader_events_total", event="signup") == 1
    assert value(samples, "digest_reader_events_total", event="unsubscribed") == 1
    assert value(samples, "digest_webhook_deliveries_total") == 2
    assert value(samples, "digest_webhook_failures_total") == 2
    assert value(samples, "digest_webhook_outbox") == 0


def test_metrics_need_a_key(tmp_path: Path) -> None:
    settings, _ = _readers(tmp_path, "smtp://127.0.0.1:1", 0)
    client = create_app(settings).test_client()
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_the_scheduler_logs_json_and_its_runs_are_scraped(tmp_path: Path) -> None:
    """`digest schedule run --log-format json` as another process: every stderr line is one
    JSON object; its job runs and the messages it sent show in the web process's /metrics."""
    with running_relay() as relay:
        config, path, _ = daemon_setup(tmp_path, relay, 2)
        with Digest(config, path, "schedule", "run", "--log-format", "json") as daemon:
            for job in ("send-daily", "send-weekly"):
                daemon.wait_for_line(f"job {job} end")
            returncode, _, err = daemon.finish(signal.SIGTERM)
        assert returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line]
    assert {line["logger"] for line in lines} == {"digest.schedule"}
    assert set(lines[0]) == {"time", "level", "logger", "message"}
    assert any(line["message"].startswith("job send-daily end: ") for line in lines)
    settings = settings_for(path, relay.url)
    token = App.open(settings).add_api_key("prometheus", "read").token
    samples = scrape(settings, token)
    assert value(samples, "digest_scheduler_job_runs_total", job="send-daily") == 1
    assert value(samples, "digest_scheduler_job_failures_total", job="send-daily") == 0
    assert (
        value(samples, "digest_messages_total", relay=f"127.0.0.1:{relay.port}", outcome="sent")
        == 2
    )


def test_json_log_lines_carry_the_traceback_on_one_line() -> None:
    record = logging.LogRecord("digest.web", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    try:
        raise ValueError("bad")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert (parsed["level"], parsed["message"]) == ("error", "boom x")
    assert "ValueError: bad" in parsed["exception"]


@pytest.mark.parametrize("command", [["serve"], ["schedule", "run"]])
def test_log_format_is_offered(command: list[str]) -> None:
    out = CliRunner().invoke(cli, [*command, "--help"]).output
    assert "--log-format [text|json]" in out
