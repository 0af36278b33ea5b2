"""`digest doctor`: the decisions on records given to them, and the whole check against a
tiny DNS server started by the test (dnspython builds its answers; real UDP on loopback).
With no resolver answering, one line says so."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from digest.app import App
from digest.config import DkimSettings, SenderSettings
from digest.deliver.doctor import (
    NoDnsError,
    check_dkim,
    check_dmarc,
    check_return_path,
    check_spf,
)
from digest.mime import DkimSigner
from digest.store import Store, open_db
from tests.builders import NOW, make_db, settings_for
from tests.test_mime_dkim import RSA_PEM

Zone = dict[tuple[str, str], list[str]]


def _quoted(value: str) -> str:
    """A TXT value as zone text: strings of at most 255 bytes, quoted."""
    return " ".join(f'"{value[i : i + 200]}"' for i in range(0, len(value), 200))


@pytest.fixture
def dns_server() -> Iterator[tuple[int, Zone]]:
    zone: Zone = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                wire, peer = sock.recvfrom(4096)
            except OSError:
                return  # closed: the test is over
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            kind = dns.rdatatype.to_text(question.rdtype)
            if (name, kind) in zone:
                values = [_quoted(v) if kind == "TXT" else v for v in zone[name, kind]]
                response.answer.append(dns.rrset.from_text(question.name, 300, "IN", kind, *values))
            elif not any(n == name for n, _ in zone):
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], zone
    sock.close()
    thread.join(timeout=5)


def _resolver(port: int) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 2.0
    return resolver


def _app(tmp_path: Path) -> App:
    path = tmp_path / "d.db"
    make_db(path).close()
    (tmp_path / "dkim.pem").write_bytes(RSA_PEM)
    settings = dataclasses.replace(
        settings_for(path),
        sender=SenderSettings(
            from_="Legal Reader <digest@news.example.com>",
            return_path="bounces@mail.news.example.com",
        ),
        dkim=DkimSettings(
            domain="news.example.com", selector="sel", key_file=str(tmp_path / "dkim.pem")
        ),
    )
    return App(settings, Store.adopt(open_db(path)), clock=lambda: NOW)


def test_the_whole_check_against_a_local_dns_server(
    tmp_path: Path, dns_server: tuple[int, Zone]
) -> None:
    port, zone = dns_server
    app = _app(tmp_path)
    public = DkimSigner("news.example.com", "sel", RSA_PEM).loaded.public_records()["rsa-sha256"]
    zone["mail.news.example.com", "TXT"] = ["v=spf1 include:amazonses.com -all"]
    zone["mail.news.example.com", "MX"] = ["10 feedback-smtp.eu-west-1.amazonses.com."]
    zone["sel._domainkey.news.example.com", "TXT"] = [f"v=DKIM1; k=rsa; p={public}"]
    zone["_dmarc.news.example.com", "TXT"] = [
        "v=DMARC1; p=quarantine; rua=mailto:d@news.example.com"
    ]
    lines = [c.line() for c in app.doctor(_resolver(port))]
    assert lines == [
        "ok   SPF: mail.news.example.com: v=spf1 include:amazonses.com -all",
        "ok   DKIM: sel._domainkey.news.example.com: matches the private key",
        "ok   DMARC: _dmarc.news.example.com: p=quarantine",
        "ok   return path: mail.news.example.com receives mail and aligns with news.example.com",
    ]
    # A stale key in DNS, no DMARC, and bounces going nowhere.
    zone["sel._domainkey.news.example.com", "TXT"] = [
        "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"
    ]
    del zone["_dmarc.news.example.com", "TXT"]
    del zone["mail.news.example.com", "MX"]
    fixes = [c.line() for c in app.doctor(_resolver(port)) if not c.ok]
    assert fixes == [
        "FIX  DKIM: sel._domainkey.news.example.com: the published key is not the one "
        "dkim.key_file signs with",
        "FIX  DMARC: no DMARC record at _dmarc.news.example.com: publish one, e.g. "
        "'v=DMARC1; p=none'",
        "FIX  return path: mail.news.example.com has no MX or address: bounces cannot come back",
    ]


def test_no_dns_is_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))  # nothing will ever answer here
        resolver = _resolver(dead.getsockname()[1])
        resolver.lifetime = 0.5
        with pytest.raises(NoDnsError) as info:
            _app(tmp_path).doctor(resolver)
    assert str(info.value) == (
        "no DNS: no resolver answers (LifetimeTimeout); run `digest doctor` on a machine "
        "that can resolve names"
    )
    assert "\n" not in str(info.value)


def test_the_decisions() -> None:
    assert check_spf("d.example", None).detail == (
        "no SPF record at d.example: publish one naming your relays"
    )
    assert not check_spf("d.example", ["v=spf1 -all", "v=spf1 a -all"]).ok
    assert not check_spf("d.example", ["v=spf1 +all"]).ok
    assert check_spf("d.example", ["google-site-verification=x", "v=spf1 mx ~all"]).ok
    assert check_dmarc("d.example", ["v=DMARC1; p=none"]).detail == "_dmarc.d.example: p=none"
    assert not check_dmarc("d.example", ["v=DMARC1; rua=mailto:x@d.example"]).ok
    assert check_dkim("s._domainkey.d.example", ["v=DKIM1; k=rsa; p=AB CD"], "ABCD").ok
    assert not check_dkim("s._domainkey.d.example", None, "ABCD").ok
    assert check_return_path("bounce.d.example", "d.example", True).ok
    assert not check_return_path("other.example", "d.example", True).ok
