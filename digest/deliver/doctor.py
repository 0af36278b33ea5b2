"""`digest doctor`: what receivers will find in DNS about our mail, and what to fix.

Values in, values out: the decisions (:func:`check_spf`, :func:`check_dmarc`,
:func:`check_dkim`, :func:`check_return_path`) take the records as strings; :class:`Dns`
fetches them with dnspython from the resolver it is given (the system's, or a test's).
Gmail's and Yahoo's rules for bulk senders (docs/email.md): SPF and DKIM pass, DMARC
published, the From domain aligned with one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.errors import DigestError

if TYPE_CHECKING:
    # dnspython costs some 10 MB and 50 ms at import; only `digest doctor` needs it, so it
    # is imported on first use (docs/performance.md, Memory).
    import dns.resolver


class NoDnsError(DigestError):
    """No resolver answers at all: nothing can be checked from here."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok ' if self.ok else 'FIX'}  {self.name}: {self.detail}"


class Dns:
    """TXT and address lookups; None for a name with no such record."""

    def __init__(self, resolver: dns.resolver.Resolver | None = None) -> None:
        if resolver is None:
            import dns.resolver

            resolver = dns.resolver.Resolver()
        self.resolver = resolver

    def txt(self, name: str) -> list[str] | None:
        answer = self._query(name, "TXT")
        if answer is None:
            return None
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    def exists(self, name: str) -> bool:
        return any(self._query(name, kind) is not None for kind in ("MX", "A", "AAAA"))

    def _query(self, name: str, kind: str) -> dns.resolver.Answer | None:
        import dns.exception
        import dns.resolver

        try:
            return self.resolver.resolve(name, kind)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        except (dns.resolver.NoNameservers, dns.exception.Timeout, OSError) as e:
            raise NoDnsError(
                f"no DNS: no resolver answers ({type(e).__name__}); run `digest doctor` "
                "on a machine that can resolve names"
            ) from e


def _tags(record: str) -> dict[str, str]:
    out = {}
    for part in record.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            out[key.strip().lower()] = "".join(value.split())
    return out


def check_spf(domain: str, records: Sequence[str] | None) -> Check:
    spf = [r for r in records or () if r.lower().startswith("v=spf1")]
    if not spf:
        return Check("SPF", False, f"no SPF record at {domain}: publish one naming your relays")
    if len(spf) > 1:
        return Check("SPF", False, f"{len(spf)} SPF records at {domain}: merge them into one")
    if spf[0].split()[-1] in ("+all", "all"):
        return Check("SPF", False, f"{domain}: '{spf[0]}' lets anyone send: end with -all or ~all")
    return Check("SPF", True, f"{domain}: {spf[0]}")


def check_dmarc(domain: str, records: Sequence[str] | None) -> Check:
    dmarc = [r for r in records or () if r.replace(" ", "").lower().startswith("v=dmarc1")]
    name = f"_dmarc.{domain}"
    if len(dmarc) != 1:
        what = "no DMARC record" if not dmarc else f"{len(dmarc)} DMARC records"
        return Check("DMARC", False, f"{what} at {name}: publish one, e.g. 'v=DMARC1; p=none'")
    policy = _tags(dmarc[0]).get("p", "")
    if policy not in ("none", "quarantine", "reject"):
        return Check("DMARC", False, f"{name}: no valid p= tag in '{dmarc[0]}'")
    return Check("DMARC", True, f"{name}: p={policy}")


def check_dkim(name: str, records: Sequence[str] | None, public_key: str) -> Check:
    """``public_key``: the p= value our private key's public half gives (base64)."""
    if not records:
        return Check("DKIM", False, f"no record at {name}: publish 'v=DKIM1; p={public_key}'")
    published = _tags(" ".join(records)).get("p", "")
    if published != public_key:
        return Check(
            "DKIM", False, f"{name}: the published key is not the one dkim.key_file signs with"
        )
    return Check("DKIM", True, f"{name}: matches the private key")


def check_return_path(rp_domain: str, from_domain: str, receives: bool) -> Check:
    if not receives:
        return Check(
            "return path", False, f"{rp_domain} has no MX or address: bounces cannot come back"
        )
    aligned = rp_domain == from_domain or rp_domain.endswith("." + from_domain)
    if not aligned:
        return Check(
            "return path",
            False,
            f"{rp_domain} is not {from_domain} or a subdomain: SPF does not align for DMARC",
        )
    return Check("return path", True, f"{rp_domain} receives mail and aligns with {from_domain}")
