"""The deployment's secrets: DB passwords, S3 keys, WordPress salts and admin password.

They live in one env file (mode 0600) per deployment and reach the nodes as
/etc/wpcluster/site.env; units hand them to containers with --env-file, so
no secret is ever written in a unit file, a command line or a log. ``redact``
strips them from any text the harness is about to show.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.errors import WpclusterError

SALT_NAMES = [f"WORDPRESS_{kind}_{part}" for part in ("KEY", "SALT")
              for kind in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")]
SECRET_NAMES = ["MARIADB_ROOT_PASSWORD", "WORDPRESS_DB_PASSWORD", "WORDPRESS_CACHE_S3_KEY",
                "WORDPRESS_CACHE_S3_SECRET", "WORDPRESS_ADMIN_PASSWORD", *SALT_NAMES]
# Letters and digits only: the same file is read by systemd's EnvironmentFile and docker's --env-file,
# which disagree about quotes and escapes.
_ALPHABET = string.ascii_letters + string.digits


def _token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Secrets:
    values: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    @classmethod
    def generate(cls) -> Secrets:
        values = {name: _token(64 if name in SALT_NAMES else 24) for name in SECRET_NAMES}
        values["WORDPRESS_CACHE_S3_KEY"] = "AKIA" + _token(16).upper()
        return cls(values)

    @classmethod
    def load(cls, path: Path) -> Secrets:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise WpclusterError(f"cannot read the deployment secrets {path}: {exc.strerror}",
                                 "create it, or let the lab generate one") from None
        values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
        missing = [name for name in SECRET_NAMES if not values.get(name)]
        if missing:
            raise WpclusterError(f"{path} lacks {', '.join(missing)}", "add them (letters and digits only)")
        return cls(values)

    @classmethod
    def load_or_generate(cls, path: Path) -> Secrets:
        """The secrets kept at ``path``, or new ones saved there."""
        if path.exists():
            return cls.load(path)
        fresh = cls.generate()
        fresh.save(path)
        return fresh

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(f"{k}={v}\n" for k, v in self.values.items()))
        return path

    def redact(self, text: str) -> str:
        """``text`` with every secret value replaced by its name."""
        for name, value in self.values.items():
            if value:
                text = text.replace(value, f"<{name}>")
        return text
