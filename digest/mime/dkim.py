"""DKIM signing of the final message bytes (docs/email.md rule 25), with ``cryptography``.

rsa-sha256 (RFC 6376) and, optionally, ed25519-sha256 beside it (RFC 8463: two
DKIM-Signature headers, one per algorithm), relaxed/simple canonicalisation, no l= tag.
Canonicalising and hashing a 50 KB message costs about 0.1 ms (hashlib); the private-key
operation about 0.5 ms for RSA-2048 and 0.05 ms for Ed25519. Signing is three steps,
:meth:`DkimSigner.prepare` (headers and body hash), :meth:`LoadedKeys.sign` (the private-key
operation) and :meth:`DkimSigner.finish` (the headers put in front of exactly the bytes that
were hashed). A send runs the first two in a process of its own (digest/deliver/signing.py),
given a :class:`SignerSpec`, and puts the headers it gets back in front of the bytes it kept.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from digest.config import Settings
from digest.errors import ConfigError

if TYPE_CHECKING:
    # cryptography is imported when keys are loaded: a send without [dkim] never needs it
    # (docs/performance.md, Memory).
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

# Headers the DKIM signature covers (docs/email.md rule 25). Absent ones are signed as
# absent (RFC 6376 5.4), which stops a relay or attacker from adding them later.
DKIM_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "list-id",
    "feedback-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
)

RSA_SHA256 = "rsa-sha256"
ED25519_SHA256 = "ed25519-sha256"
ALGORITHMS = (RSA_SHA256, ED25519_SHA256)

_WSP = re.compile(rb"[ \t]+")
_FOLD = re.compile(rb"\r\n(?=[ \t])")
_FIELD_START = re.compile(rb"^(?=[^ \t])", re.MULTILINE)


def relaxed_header(field: bytes) -> bytes:
    """One header field (name, colon, value, folds, no final CRLF) in relaxed form (RFC 6376
    3.4.2): name lower-cased, value unfolded, runs of WSP to one space, none at either end."""
    name, _, value = field.partition(b":")
    if b"\n" in value or b"\t" in value or b"  " in value:  # most fields: none of these
        value = _WSP.sub(b" ", _FOLD.sub(b"", value))
    value = value.strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


def header_fields(block: bytes) -> dict[bytes, bytes]:
    """Each header field by lower-cased name, the last of a name winning (the one a signer
    takes first, RFC 6376 5.4.2). ``block`` ends with the CRLF of the last field."""
    fields: dict[bytes, bytes] = {}
    for field in _FIELD_START.split(block):
        if field:
            name = field.split(b":", 1)[0].rstrip(b" \t").lower()
            fields[name] = field[:-2] if field.endswith(b"\r\n") else field
    return fields


def simple_body_hash(data: bytes | memoryview, start: int) -> bytes:
    """sha256 of the body from ``start`` in simple form (RFC 6376 3.4.3): trailing empty lines
    dropped, one CRLF at the end. No copy of the body is made."""
    end = len(data)
    while end - 2 >= start and data[end - 2] == 13 and data[end - 1] == 10:  # CR LF
        end -= 2
    view = memoryview(data)
    digest = hashlib.sha256(view[start:end])
    digest.update(b"\r\n")
    return digest.digest()


@dataclass(frozen=True)
class SigningKeys:
    """The private keys, as PEM (picklable: a signing process is given this), one per
    algorithm in signing order."""

    algorithms: tuple[str, ...]
    pems: tuple[bytes, ...]

    def loaded(self) -> LoadedKeys:
        return LoadedKeys(self)


class LoadedKeys:
    """The keys parsed once; :meth:`sign` does the private-key operation for one message."""

    def __init__(self, keys: SigningKeys) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        self.algorithms = keys.algorithms
        self._keys = tuple(
            _load_key(alg, pem) for alg, pem in zip(keys.algorithms, keys.pems, strict=True)
        )
        self._pkcs1 = padding.PKCS1v15()
        self._prehashed = Prehashed(hashes.SHA256())

    def public_records(self) -> dict[str, str]:
        """The p= value of each key's DNS record: base64 DER for RSA, raw for Ed25519."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        out = {}
        for algorithm, key in zip(self.algorithms, self._keys, strict=True):
            public = key.public_key()
            if isinstance(public, rsa.RSAPublicKey):
                der = public.public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            else:
                der = public.public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw
                )
            out[algorithm] = base64.b64encode(der).decode("ascii")
        return out

    def sign(self, digests: Sequence[bytes]) -> tuple[bytes, ...]:
        """The signature of each sha256 ``digests[i]`` with key i."""
        from cryptography.hazmat.primitives.asymmetric import rsa  # loaded by __init__

        out = []
        for key, digest in zip(self._keys, digests, strict=True):
            if isinstance(key, rsa.RSAPrivateKey):
                out.append(key.sign(digest, self._pkcs1, self._prehashed))
            else:  # RFC 8463: PureEdDSA over the SHA-256 hash of the signed data
                out.append(key.sign(digest))
        return tuple(out)


def _load_key(algorithm: str, pem: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    setting = "dkim.key_file" if algorithm == RSA_SHA256 else "dkim.ed25519_key_file"
    wanted = "RSA" if algorithm == RSA_SHA256 else "Ed25519"
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        if algorithm == ED25519_SHA256:
            raw = _raw_ed25519(pem)
            if raw is not None:
                return raw
        raise ConfigError(f"{setting}: not a PEM {wanted} private key: {e}") from e
    if algorithm == RSA_SHA256 and isinstance(key, rsa.RSAPrivateKey):
        return key
    if algorithm == ED25519_SHA256 and isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise ConfigError(f"{setting}: not a PEM {wanted} private key: got {type(key).__name__}")


def _raw_ed25519(text: bytes) -> ed25519.Ed25519PrivateKey | None:
    """dkimpy's dknewkey writes an Ed25519 key as the base64 32-byte seed on one line."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        return None
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed) if len(seed) == 32 else None


@dataclass(frozen=True)
class SignerSpec:
    """Everything a :class:`DkimSigner` is made of, picklable: what a signing process gets."""

    domain: str
    selector: str
    keys: SigningKeys
    headers: tuple[str, ...]
    ed25519_selector: str = ""


@dataclass(frozen=True)
class Prepared:
    """A message hashed and waiting for its signatures: one header stub (ending in ``b=``)
    and one digest per algorithm."""

    data: bytes
    stubs: tuple[bytes, ...]
    digests: tuple[bytes, ...]


class DkimSigner:
    """Signs final message bytes (docs/email.md rule 25). Key files are read once."""

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key: bytes,
        *,
        algorithms: Sequence[str] = (RSA_SHA256,),
        ed25519_key: bytes = b"",
        ed25519_selector: str = "",
        headers: Sequence[str] = DKIM_HEADERS,
    ) -> None:
        """``selector`` names the RSA key's DNS record; each key needs a record of its own,
        so the Ed25519 key's is ``ed25519_selector``, by default ``<selector>-ed25519`` when
        both are signed with, else ``selector``."""
        unknown = [a for a in algorithms if a not in ALGORITHMS]
        if unknown or not algorithms:
            raise ConfigError(
                f"dkim.algorithms: expected some of {', '.join(ALGORITHMS)}, got {list(algorithms)}"
            )
        pems = tuple(private_key if a == RSA_SHA256 else ed25519_key for a in algorithms)
        self.keys = SigningKeys(tuple(algorithms), pems)
        if not ed25519_selector:
            ed25519_selector = f"{selector}-ed25519" if RSA_SHA256 in algorithms else selector
        self.selectors = {RSA_SHA256: selector, ED25519_SHA256: ed25519_selector}
        self.spec = SignerSpec(domain, selector, self.keys, tuple(headers), ed25519_selector)
        self.loaded = self.keys.loaded()  # checks every key now, not at the first message
        self.headers = tuple(h.lower().encode("ascii") for h in headers)
        tail = b";\r\n\th=" + b":".join(self.headers) + b";\r\n\tbh="
        self._heads = tuple(
            b"DKIM-Signature: v=1; a="
            + a.encode("ascii")
            + b"; c=relaxed/simple; d="
            + domain.encode("ascii")
            + b"; s="
            + self.selectors[a].encode("ascii")
            + tail
            for a in algorithms
        )

    @classmethod
    def from_spec(cls, spec: SignerSpec) -> DkimSigner:
        pems = dict(zip(spec.keys.algorithms, spec.keys.pems, strict=True))
        return cls(
            spec.domain,
            spec.selector,
            pems.get(RSA_SHA256, b""),
            algorithms=spec.keys.algorithms,
            ed25519_key=pems.get(ED25519_SHA256, b""),
            ed25519_selector=spec.ed25519_selector,
            headers=spec.headers,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        dkim = settings.dkim
        if not dkim.enabled:
            return None
        algorithms = dkim.algorithms
        ed_key = b""
        if ED25519_SHA256 in algorithms:
            if not dkim.ed25519_key_file:
                raise ConfigError("dkim.ed25519_key_file: required when algorithms has ed25519")
            ed_key = _read(dkim.ed25519_key_file, "dkim.ed25519_key_file")
        rsa_key = _read(dkim.key_file, "dkim.key_file") if RSA_SHA256 in algorithms else b""
        return cls(
            dkim.domain,
            dkim.selector,
            rsa_key,
            algorithms=algorithms,
            ed25519_key=ed_key,
            ed25519_selector=dkim.ed25519_selector,
        )

    def prepare(self, data: bytes) -> Prepared:
        """Canonicalise and hash ``data``; everything but the private-key operation."""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            raise ValueError("a message to sign needs a header block ending in an empty line")
        fields = header_fields(data[: end + 2])
        signed = b"".join(relaxed_header(fields[h]) for h in self.headers if h in fields)
        bh = base64.b64encode(simple_body_hash(data, end + 4))
        stubs = tuple(head + bh + b";\r\n\tb=" for head in self._heads)
        digests = tuple(
            hashlib.sha256(signed + relaxed_header(stub)[:-2]).digest() for stub in stubs
        )
        return Prepared(data, stubs, digests)

    def finish(self, prepared: Prepared, signatures: Sequence[bytes]) -> bytes:
        """The message with its DKIM-Signature headers in front."""
        return _heads(prepared, signatures) + prepared.data

    def signature_headers(self, data: bytes) -> bytes:
        """The DKIM-Signature header lines for ``data``, to be put in front of it."""
        prepared = self.prepare(data)
        return _heads(prepared, self.loaded.sign(prepared.digests))

    def sign(self, data: bytes) -> bytes:
        """``data`` with its DKIM-Signature headers prepended, signed in this process."""
        return self.signature_headers(data) + data


def _heads(prepared: Prepared, signatures: Sequence[bytes]) -> bytes:
    return b"".join(
        stub + base64.b64encode(sig) + b"\r\n"
        for stub, sig in zip(prepared.stubs, signatures, strict=True)
    )


def _read(path: str, setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{setting}: cannot read {path}: {e}") from e
