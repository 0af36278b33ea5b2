"""One unusual address never blocks the edition: internationalised addresses among ASCII ones,
sent through a real relay that offers SMTPUTF8 and through one that does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import TestResponse

from digest.cli import cli
from digest.store import editions as store
from digest.store import open_db
from tests.builders import NOW, add_articles, article, make_db, send_at, settings_for, subscribe
from tests.relay import running_relay

ASCII = ["ana@example.com", "bo@example.org"]
IDN = "user@bücher.de"  # stored as typed (Unicode), sent as A-labels
ALABEL = "user@xn--bcher-kva.de"  # given as A-labels, stored as Unicode: the same reader
UTF8_LOCAL = ["jörg@example.net", "用户@例子.广告"]


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "subscribers.db"
    db = make_db(path)
    yesterday = NOW - timedelta(days=1)
    add_articles(db, [article("o1", ("Courts",), yesterday)], imported=yesterday)
    for email in [*ASCII, IDN, *UTF8_LOCAL]:
        subscribe(db, email, ("Courts",))
    db.close()
    return path


def test_the_same_validation_at_every_way_in(tmp_path: Path) -> None:
    path = _database(tmp_path)
    # The A-label spelling of a stored IDN address is the same reader, not a new one.
    result = CliRunner().invoke(
        cli, ["--db", str(path), "subscribers", "add", ALABEL, "--category", "Courts"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Already subscribed, unchanged: {IDN} ")


@pytest.mark.parametrize("smtputf8", [True, False])
def test_internationalised_addresses_among_ascii_ones(tmp_path: Path, smtputf8: bool) -> None:
    path = _database(tmp_path)
    with running_relay(smtputf8=smtputf8) as relay:
        settings = settings_for(path, relay.url)
        db = open_db(path)
        report = send_at(db, settings, NOW)
        assert report.status == "complete"
        assert report.ok  # the send succeeded: undeliverable readers are counted apart
        got = relay.by_recipient()
        # IDN domains travel as A-labels, in the envelope and in the To header.
        assert ALABEL in got
        assert got[ALABEL][0].message["To"] == ALABEL
        delivered = set(got)
        for email in ASCII:
            assert email in delivered
        deliveries = {d.email: d for d in store.deliveries_of(db, report.edition_id or 0)}
        if smtputf8:
            assert report.sent == 5 and report.undeliverable == 0
            assert {"jörg@example.net", "用户@xn--fsqu00a.xn--4rr70v"} <= delivered
            assert got["jörg@example.net"][0].message["To"] == "jörg@example.net"
        else:
            assert report.sent == 3 and report.undeliverable == 2
            for email in UTF8_LOCAL:
                assert deliveries[email].status == "failed"
                assert deliveries[email].reply.startswith("undeliverable: relay lacks SMTPUTF8")
        # A rerun sends nothing more.
        again = send_at(db, settings, NOW)
        assert again.status == "already-complete"
        assert len(relay.received) == (5 if smtputf8 else 3)


@pytest.mark.parametrize("smtputf8", [True, False])
def test_every_way_in_asks_whether_the_relay_can_carry_the_address(
    tmp_path: Path, smtputf8: bool
) -> None:
    """The same check at `subscribers add`, a CSV import and the web form: an address with
    non-ASCII characters before the @ is accepted only when the relay offers SMTPUTF8."""
    path = _database(tmp_path)
    with running_relay(smtputf8=smtputf8) as relay:
        config = tmp_path / "digest.toml"
        config.write_text(f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n')
        base = ["--config", str(config), "--db", str(path), "subscribers"]
        add = CliRunner().invoke(cli, [*base, "add", "zoë@example.org", "-c", "Courts"])
        csv_file = tmp_path / "readers.csv"
        csv_file.write_text("email,categories\nžan@example.org,Courts\nok@example.org,Courts\n")
        imported = CliRunner().invoke(cli, [*base, "import", str(csv_file)])
        page = _web_signup(path, relay.url, "ünal@example.org")
    refusal = "our mail server does not accept non-ASCII characters before the @ (SMTPUTF8)"
    if smtputf8:
        assert add.exit_code == 0, add.output
        assert imported.exit_code == 0 and "Added 2," in imported.output
        assert page.status_code == 200
    else:
        assert add.exit_code == 1
        assert refusal in add.output and len(add.output.splitlines()) == 1
        assert imported.exit_code == 1 and "Added 1," in imported.output
        assert "line 2: email: žan@example.org cannot be mailed" in imported.output
        assert page.status_code == 400
        assert refusal in page.get_data(as_text=True)


def _web_signup(path: Path, relay_url: str, email: str) -> TestResponse:
    from digest.web import create_app

    app = create_app(settings_for(path, relay_url))
    client = app.test_client()
    return client.post(
        "/subscribe", data={"email": email, "categories": "courts", "frequency": "weekly"}
    )


def test_undeliverable_readers_do_not_fail_the_command(tmp_path: Path) -> None:
    path = _database(tmp_path)
    with running_relay() as relay:
        config = tmp_path / "digest.toml"
        config.write_text(f'secret_key = "k"\n[smtp]\nurl = "{relay.url}"\n')
        result = CliRunner().invoke(
            cli,
            ["--config", str(config), "--db", str(path), "send", "--as-of", NOW.isoformat()],
        )
    assert result.exit_code == 0, result.output
    assert "Undeliverable: 2 reader(s) whose address this relay cannot carry" in result.output
