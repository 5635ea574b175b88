#!/usr/bin/python3
"""A small coreos-cloudinit for the vagrant stand-in's machines (not CoreOS's, and not a full one).

The stand-in boots node containers where coreos-vagrant boots CoreOS VMs. On a
VM, CoreOS's coreos-cloudinit applies the user-data coreos-vagrant provisions
at /var/lib/coreos-vagrant/vagrantfile-user-data on every boot. This does the
same for the parts of a cloud-config that CoreOS acts on and the harness
renders, the way coreos-cloudinit does them:

- ``$public_ipv4`` and ``$private_ipv4`` are replaced in the whole text first
  (both are the machine's address, as on coreos-vagrant), and /etc/environment
  gets COREOS_PUBLIC_IPV4 and COREOS_PRIVATE_IPV4;
- ``hostname`` and ``ssh_authorized_keys`` (the core user's);
- ``write_files``: path, content, permissions, owner;
- ``coreos.etcd2`` and ``coreos.fleet``: a runtime drop-in (20-cloudinit.conf)
  of etcd2.service and fleet.service with ETCD_*/FLEET_* environment;
- ``coreos.update``: /etc/coreos/update.conf (nothing reads it here);
- ``coreos.units``: content, drop-ins, runtime, mask, enable, then each
  ``command`` in list order, without waiting for the job (at boot a start
  that waited could deadlock on units ordered after this one).

Anything else is logged as ignored, as coreos-cloudinit does with keys it does
not know; nothing here fails the boot. It runs as a oneshot at every boot
(coreos-cloudinit.service) and needs python3 and PyYAML only.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

USER_DATA = "/var/lib/coreos-vagrant/vagrantfile-user-data"
SUBSTITUTIONS = ("$public_ipv4", "$private_ipv4")
SETTINGS_UNITS = {"etcd2": ("etcd2.service", "ETCD_"), "fleet": ("fleet.service", "FLEET_")}
# The options coreos-cloudinit knows for each (its config/etcd2.go and fleet.go); it ignores others.
KNOWN_SETTINGS = {
    "etcd2": {
        "advertise-client-urls", "ca-file", "cert-file", "client-cert-auth", "cors", "data-dir", "debug",
        "discovery", "discovery-fallback", "discovery-proxy", "discovery-srv", "election-timeout",
        "force-new-cluster", "heartbeat-interval", "initial-advertise-peer-urls", "initial-cluster",
        "initial-cluster-state", "initial-cluster-token", "key-file", "listen-client-urls", "listen-peer-urls",
        "log-package-levels", "max-snapshots", "max-wals", "name", "peer-ca-file", "peer-cert-file",
        "peer-client-cert-auth", "peer-key-file", "peer-trusted-ca-file", "proxy", "proxy-dial-timeout",
        "proxy-failure-wait", "proxy-read-timeout", "proxy-refresh-interval", "proxy-write-timeout",
        "snapshot-count", "strict-reconfig-check", "trusted-ca-file", "wal-dir",
    },
    "fleet": {
        "agent-ttl", "authorized-keys-file", "disable-engine", "disable-watches", "enable-grpc",
        "engine-reconcile-interval", "etcd-cafile", "etcd-certfile", "etcd-key-prefix", "etcd-keyfile",
        "etcd-request-timeout", "etcd-servers", "metadata", "public-ip", "token-limit", "verbosity",
        "verify-units",
    },
}
KNOWN_COREOS_KEYS = {"etcd2", "fleet", "units", "update"}
KNOWN_TOP_KEYS = {"coreos", "write_files", "hostname", "ssh_authorized_keys"}

Systemctl = Callable[[list[str]], None]


def log(message: str) -> None:
    print(f"coreos-cloudinit: {message}", flush=True)


def machine_address() -> str:
    """The machine's first global IPv4 address (its private network's, on the stand-in)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True,
                         check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return ""


def run_systemctl(args: list[str]) -> None:
    result = subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)
    if result.returncode:
        log(f"systemctl {' '.join(args)} failed: {result.stderr.strip()}")


class Applier:
    """Applies one cloud-config under ``root`` (/ on a machine, a scratch folder in the unit tests)."""

    def __init__(self, root: Path, address: str, systemctl: Systemctl = run_systemctl) -> None:
        self.root = root
        self.address = address
        self.systemctl = systemctl

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def write(self, absolute: str, content: str, mode: int = 0o644) -> Path:
        target = self.path(absolute)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(mode)
        return target

    def apply(self, text: str) -> None:
        for name in SUBSTITUTIONS:
            text = text.replace(name, self.address)
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            log(f"user-data is not valid YAML, nothing applied: {exc}")
            return
        if not isinstance(doc, dict):
            log("user-data is not a cloud-config mapping, nothing applied")
            return
        for key in sorted(set(doc) - KNOWN_TOP_KEYS):
            log(f"ignored: {key}")
        if doc.get("hostname"):
            self.write("/etc/hostname", f"{doc['hostname']}\n")
        self.authorized_keys(doc.get("ssh_authorized_keys") or [])
        written = [self.write_file(entry) for entry in doc.get("write_files") or []]
        if "/etc/environment" not in written:  # a user-data that writes it says what it holds
            self.environment()
        coreos = doc.get("coreos") or {}
        for key in sorted(set(coreos) - KNOWN_COREOS_KEYS):
            log(f"ignored: coreos.{key}")
        for section in SETTINGS_UNITS:
            if coreos.get(section):
                self.settings_drop_in(section, coreos[section])
        if coreos.get("update"):
            self.write("/etc/coreos/update.conf", "".join(
                f"{key.upper().replace('-', '_')}={value}\n" for key, value in coreos["update"].items()))
        self.units(coreos.get("units") or [])

    def environment(self) -> None:
        """/etc/environment with CoreOS's two address variables, keeping its other lines."""
        path = self.path("/etc/environment")
        ours = {"COREOS_PUBLIC_IPV4": self.address, "COREOS_PRIVATE_IPV4": self.address}
        lines = path.read_text().splitlines() if path.exists() else []
        for i, line in enumerate(lines):
            key = line.split("=", 1)[0]
            if key in ours:
                lines[i] = f"{key}={ours.pop(key)}"
        lines += [f"{key}={value}" for key, value in ours.items()]
        self.write("/etc/environment", "".join(f"{line}\n" for line in lines))

    def authorized_keys(self, keys: list[str]) -> None:
        if not keys:
            return
        path = self.path("/home/core/.ssh/authorized_keys")
        present = path.read_text().splitlines() if path.exists() else []
        self.write("/home/core/.ssh/authorized_keys",
                   "".join(f"{k}\n" for k in present + [k for k in keys if k not in present]), 0o600)
        self.chown(path, "core")

    def write_file(self, entry: dict) -> str:
        """Write one write_files entry; returns its path ("" when it was not written)."""
        if not entry.get("path"):
            log(f"ignored: a write_files entry without a path ({sorted(entry)})")
            return ""
        if entry.get("encoding"):
            log(f"ignored: {entry['path']}: encoding {entry['encoding']!r} is not supported here")
            return ""
        mode = entry.get("permissions", "0644")
        try:
            # Unquoted, YAML reads 0644 as the octal number it is; quoted, it is text to read as octal.
            target = self.write(entry["path"], str(entry.get("content", "")), mode if isinstance(mode, int)
                                else int(str(mode), 8))
            if entry.get("owner"):
                self.chown(target, str(entry["owner"]))
        except (OSError, ValueError) as exc:
            log(f"{entry['path']} not written: {exc}")
            return ""
        return str(entry["path"])

    def chown(self, path: Path, owner: str) -> None:
        if os.geteuid() != 0:
            return  # only root may; the unit tests run as anyone
        user, _, group = owner.partition(":")
        try:
            os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid if group else -1)
        except KeyError:
            log(f"{path}: no such owner {owner!r}")

    def settings_drop_in(self, section: str, settings: dict) -> None:
        unit, prefix = SETTINGS_UNITS[section]
        for key in sorted(set(settings) - KNOWN_SETTINGS[section]):
            log(f"ignored: coreos.{section}.{key}")
        lines = "".join(f'Environment="{prefix}{key.upper().replace("-", "_")}={value}"\n'
                        for key, value in settings.items() if key in KNOWN_SETTINGS[section])
        self.write(f"/run/systemd/system/{unit}.d/20-cloudinit.conf", "[Service]\n" + lines)

    def units(self, units: list[dict]) -> None:
        commands = []
        for unit in units:
            name = unit.get("name")
            if not name:
                log("ignored: a unit without a name")
                continue
            folder = "/run/systemd/system" if unit.get("runtime") else "/etc/systemd/system"
            try:
                if unit.get("mask"):
                    link = self.path(f"{folder}/{name}")
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.unlink(missing_ok=True)
                    link.symlink_to("/dev/null")
                elif unit.get("content"):
                    self.write(f"{folder}/{name}", unit["content"])
                for drop_in in unit.get("drop-ins") or []:
                    self.write(f"{folder}/{name}.d/{drop_in['name']}", drop_in.get("content", ""))
            except (OSError, KeyError) as exc:
                log(f"{name} not written: {exc}")
                continue
            if unit.get("enable"):
                commands.append(["enable", name])
            if unit.get("command"):
                commands.append(["--no-block", unit["command"], name])
        self.systemctl(["daemon-reload"])
        for command in commands:
            self.systemctl(command)


def main(argv: list[str]) -> int:
    source = Path(argv[1] if len(argv) > 1 else USER_DATA)
    if not source.exists():
        log(f"no user-data at {source}: nothing to do")
        return 0
    address = machine_address()
    log(f"applying {source} ({address or 'no address'})")
    Applier(Path("/"), address).apply(source.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
