"""A real IMAP server for tests: Dovecot (Debian's dovecot-imapd), started by the test with
a configuration of its own: one passwd-file user, a Maildir, plain login on a free loopback
port, no TLS. Ready when the master says it is starting up (it binds its listeners first).

Dovecot refuses to run a mailbox as root, so when the tests run as root the mailbox belongs
to 'nobody' and lives in a folder of its own under /tmp (pytest's tmp_path is private to
root); the fixture removes it."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.relay import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "imap-test-password"


def need_dovecot() -> None:
    if not os.access(DOVECOT, os.X_OK):
        pytest.skip("dovecot not installed (Debian package dovecot-imapd; .ci/run installs it)")


@dataclass
class Dovecot:
    port: int
    maildir: Path
    uid: int
    gid: int

    @property
    def url(self) -> str:
        return f"imap://{USER}@127.0.0.1:{self.port}/INBOX"

    def deliver(self, name: str, raw: bytes) -> None:
        """Put a message in INBOX the way a delivery agent does: tmp/, then new/."""
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        tmp.rename(self.maildir / "new" / name)

    def count(self, folder: str = "INBOX") -> int:
        base = self.maildir if folder == "INBOX" else self.maildir / f".{folder}"
        return sum(len(list((base / d).glob("*"))) for d in ("cur", "new") if (base / d).exists())


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    need_dovecot()
    user = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    root = Path(tempfile.mkdtemp(prefix="digest-dovecot-"))
    try:
        root.chmod(0o755)
        home = root / "home"
        maildir = home / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True)
        for path in (home, maildir, *(maildir / s for s in ("tmp", "new", "cur"))):
            os.chown(path, user.pw_uid, user.pw_gid)
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        port = free_port()
        me = pwd.getpwuid(os.getuid()).pw_name
        login_user = "dovenull" if os.getuid() == 0 else me
        internal_user = "dovecot" if os.getuid() == 0 else me
        config = root / "dovecot.conf"
        config.write_text(
            f"base_dir = {root}/run\nstate_dir = {root}/state\nlog_path = /dev/stderr\n"
            "protocols = imap\nlisten = 127.0.0.1\nssl = no\n"
            "disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
            f"default_login_user = {login_user}\ndefault_internal_user = {internal_user}\n"
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u "
            f"{root}/passwd\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={user.pw_uid} gid={user.pw_gid} "
            f"home={home}\n}}\n"
            "mail_location = maildir:~/Maildir\n"
            f"service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n"
            f"    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
        )
        process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stderr is not None
            for line in process.stderr:  # blocks until dovecot says something
                if "starting up" in line:
                    break
                if "Fatal" in line or "Error" in line:
                    raise AssertionError(f"dovecot: {line.strip()}")
            else:
                raise AssertionError("dovecot exited before starting up")
            yield Dovecot(port, maildir, user.pw_uid, user.pw_gid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(root, ignore_errors=True)
