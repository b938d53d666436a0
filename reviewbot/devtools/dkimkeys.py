"""DKIM signing for the tests: RSA keys made at run time, a pinned keys file.

No private key is ever written to the repository: ``openssl genrsa`` makes one
per process (cached), and ``Signer.keys_file`` writes the public halves in
the format of ``[commands] dkim_keys`` (reviewbot/dkim_auth.py).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dkim

from reviewbot.config import CommandsConfig, Config


@functools.cache
def rsa_key(label: str, bits: int = 2048) -> tuple[bytes, bytes]:
    """(PKCS#1 private key PEM, its DKIM TXT record), one per label per process."""
    private = subprocess.run(
        ["openssl", "genrsa", "-traditional", str(bits)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    der = subprocess.run(
        ["openssl", "rsa", "-pubout", "-outform", "DER"],
        input=private,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


@dataclass(frozen=True)
class Signer:
    """Signs mails as ``selector._domainkey.domain`` with the key named ``label``."""

    domain: str
    selector: str = "test"
    label: str = ""

    @property
    def name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}."

    def record(self) -> bytes:
        return rsa_key(self.label or self.domain)[1]

    def sign(self, raw: bytes, headers: list[bytes] | None = None, length: bool = False) -> bytes:
        """``raw`` with a DKIM-Signature on top (LF line ends, as archives keep mail)."""
        private = rsa_key(self.label or self.domain)[0]
        sig = dkim.sign(
            raw,
            self.selector.encode(),
            self.domain.encode(),
            private,
            include_headers=headers,
            length=length,
            linesep=b"\n",
        )
        return bytes(sig) + raw


def keys_file(path: Path, signers: list[Signer], extra: str = "") -> Path:
    """A pinned keys file with the signers' public keys (and ``extra`` lines)."""
    lines = [f"{s.name} {s.record().decode()}" for s in signers]
    path.write_text("# pinned DKIM keys (made by the test)\n" + "\n".join(lines) + "\n" + extra)
    return path


def pin_keys(cfg: Config, path: Path, signers: list[Signer], extra: str = "") -> Config:
    """``cfg`` reading its DKIM keys from a pinned file of these signers' keys."""
    keys_file(path, signers, extra)
    return dataclasses.replace(cfg, commands=CommandsConfig(dkim_keys=str(path), dns_timeout=2.0))
