"""The vagrant provider's calls, against a `vagrant` stand-in on PATH that records them.

Real VMs cannot run here; what is checked is what the provider asks of vagrant
(through python-vagrant), what it renders and forgets, and the environment it
gives fleetctl. etcd and fleet on real VMs are the suites' business, so the
bring-up's health wait is replaced by a recorder in these tests.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from wpcluster.clients.fleet import Fleetctl
from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import load_shape
from wpcluster.providers.vagrant import provider as vagrant_provider
from wpcluster.providers.vagrant.hosts import VagrantHosts
from wpcluster.providers.vagrant.provider import VagrantCluster, VagrantError

STANDINS = Path(__file__).resolve().parents[1] / "standins"
CHECK_SITE_PORT_FREE = VagrantCluster.check_site_port_free


class Discovery:
    """A discovery.etcd.io look-alike on loopback: /new?size=N answers a token URL; counts requests."""

    def __init__(self, answer: str | None = None) -> None:
        self.asked: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.asked.append(self.path)
                body = (answer if answer is not None else f"{outer.url}/token{len(outer.asked)}").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:  # noqa: N802 - an etcd making a token (_config/size)
                outer.asked.append(f"PUT {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def standin(tmp_path, monkeypatch):
    """PATH with the stand-in vagrant; its state, a fake home, a checkout with a coreos-vagrant Vagrantfile."""
    state = tmp_path / "standin"
    state.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(state / "insecure_private_key")],
                   check=True)
    monkeypatch.setenv("PATH", f"{STANDINS / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("VAGRANT_STANDIN_DIR", str(state))
    monkeypatch.setenv("VAGRANT_STANDIN_PLUGINS", "vagrant-libvirt")
    monkeypatch.setenv("VAGRANT_STANDIN_BOXES", "coreos-beta:libvirt")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WPCLUSTER_RESULTS", str(tmp_path / "results"))
    checkout = tmp_path / "coreos-vagrant"
    checkout.mkdir()
    shutil.copy(STANDINS / "coreos-vagrant" / "Vagrantfile", checkout)
    (checkout / "user-data.sample").write_text("#cloud-config\ncoreos:\n  etcd:\n    addr: $public_ipv4:4001\n")
    return state, checkout


class Hosts:
    """What the provider asks of the hosts beside the VMs, recorded (they are Docker's, not checked here)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.service = ""

    def up(self, hosts: VagrantHosts, fresh: bool, discovery: bool) -> str:
        self.asked.append(f"up fresh={fresh} discovery={discovery}")
        return self.service if discovery else ""

    def down(self, hosts: VagrantHosts) -> None:
        self.asked.append("down")


@pytest.fixture(autouse=True)
def hosts(monkeypatch) -> Hosts:
    """The hosts beside the VMs recorded; the site's port on this host taken as free (a lab may hold it)."""
    recorded = Hosts()
    monkeypatch.setattr(VagrantHosts, "up", lambda self, fresh, discovery: recorded.up(self, fresh, discovery))
    monkeypatch.setattr(VagrantHosts, "down", lambda self: recorded.down(self))
    monkeypatch.setattr(VagrantCluster, "check_site_port_free", lambda self: None)
    return recorded


def calls(state: Path) -> list[list[str]]:
    path = state / "calls.jsonl"
    return [json.loads(line)["args"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def discovery():
    service = Discovery()
    yield service
    service.close()


def vagrant_shape(discovery_service: str, provider: str = "libvirt", box: str = "coreos"):
    shape = load_shape()
    return dataclasses.replace(shape, vagrant=dataclasses.replace(
        shape.vagrant, discovery_service=discovery_service + "/new?size={size}", provider=provider, box=box))


@pytest.fixture
def healthy(monkeypatch):
    waited: list[bool] = []
    monkeypatch.setattr(VagrantCluster, "wait_healthy", lambda self, timeout=0: waited.append(True))
    monkeypatch.setattr(VagrantCluster, "check_hosts_reachable", lambda self: None)
    return waited


def test_up_renders_brings_up_forgets_host_keys_and_sets_the_fleet_tunnel(standin, discovery, healthy, monkeypatch):
    state, checkout = standin
    known_hosts = Path.home() / ".fleetctl" / "known_hosts"
    known_hosts.parent.mkdir(parents=True)
    known_hosts.write_text("[127.0.0.1]:2222 ssh-ed25519 AAAAold\n172.17.8.102 ssh-rsa AAAAold\n"
                           "staging.example ssh-rsa AAAAkeep\n")
    cluster = VagrantCluster(vagrant_shape(discovery.url), "run-up", checkout).up()
    try:
        assert discovery.asked == ["/new?size=3"]
        assert cluster.discovery_url == f"{discovery.url}/token1"
        user_data = yaml.safe_load((checkout / "user-data").read_text())
        assert user_data["coreos"]["etcd2"]["discovery"] == cluster.discovery_url
        assert "etcd" not in user_data["coreos"]
        config_rb = (checkout / "config.rb").read_text().splitlines()
        assert "$num_instances=3" in config_rb and "$forwarded_ports={8000 => 8888}" in config_rb

        made = calls(state)
        assert ["up", "--provider=libvirt"] in made, made
        assert made.index(["box", "list", "--machine-readable"]) < next(
            i for i, c in enumerate(made) if c[0] == "up"), "the box is checked before anything is created"
        assert healthy == [True]
        assert known_hosts.read_text() == "staging.example ssh-rsa AAAAkeep\n"

        assert cluster.fleet_tunnel == "127.0.0.1:2222"
        env = cluster.fleetctl_env
        assert env["FLEETCTL_TUNNEL"] == "127.0.0.1:2222"
        loaded = subprocess.run(["ssh-add", "-l"], env={"SSH_AUTH_SOCK": env["SSH_AUTH_SOCK"]},
                                capture_output=True, text=True)
        assert "ED25519" in loaded.stdout, loaded
        monkeypatch.setattr(VagrantCluster, "fleetctl", "fleetctl")  # the binary is not what is checked here
        command = Fleetctl(cluster).command("list-machines")
        assert "--endpoint=http://127.0.0.1:2379" in command, command
    finally:
        cluster.close()


def test_up_on_running_machines_keeps_their_discovery_url_and_files(standin, discovery, healthy):
    state, checkout = standin
    VagrantCluster(vagrant_shape(discovery.url), "run-first", checkout).up().close()
    user_data = (checkout / "user-data").read_text()
    again = VagrantCluster(vagrant_shape(discovery.url), "run-again", checkout).up()
    again.close()
    assert discovery.asked == ["/new?size=3"], "a second up on running machines asked for a new token"
    assert (checkout / "user-data").read_text() == user_data


def test_node_faults_are_vagrant_halt_suspend_resume_and_up(standin, discovery, healthy):
    state, checkout = standin
    cluster = VagrantCluster(vagrant_shape(discovery.url), "run-faults", checkout).up()
    node = cluster.node("core-02")
    before = len(calls(state))
    node.kill()
    assert not node.is_running()
    node.start()
    assert node.is_running()
    node.stop()
    node.start()
    node.pause()
    node.unpause()
    asked = [c for c in calls(state)[before:] if c[0] in ("halt", "up", "suspend", "resume")]
    assert asked == [["halt", "core-02", "--force"], ["up", "core-02", "--provider=libvirt"],
                     ["halt", "core-02"], ["up", "core-02", "--provider=libvirt"],
                     ["suspend", "core-02"], ["resume", "core-02"]], asked
    cluster.close()


def test_nodes_are_reached_over_vagrant_ssh_config(standin, discovery, healthy):
    state, checkout = standin
    cluster = VagrantCluster(vagrant_shape(discovery.url), "run-ssh", checkout).up()
    node = cluster.node("core-03")
    config = Path(cluster.ssh_config_path).read_text()
    assert "Host core-03" in config and "Port 2224" in config
    assert node.ssh_args()[:3] == ["ssh", "-F", str(cluster.ssh_config_path)] and node.ssh_args()[-1] == "core-03"
    assert node.testinfra_spec == f"ssh://core-03?ssh_config={cluster.ssh_config_path}"
    assert node.address == "172.17.8.103"
    assert cluster.etcd_endpoints == [f"http://172.17.8.10{i}:2379" for i in (1, 2, 3)]
    cluster.close()


def test_down_destroys_and_forgets_the_host_keys(standin, discovery, healthy):
    state, checkout = standin
    cluster = VagrantCluster(vagrant_shape(discovery.url), "run-down", checkout).up()
    known_hosts = Path.home() / ".fleetctl" / "known_hosts"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    known_hosts.write_text("172.17.8.101 ssh-rsa AAAAnew\n")
    cluster.down()
    assert ["destroy", "--force"] in calls(state)
    assert set(cluster.states().values()) == {"not_created"}
    assert known_hosts.read_text() == ""


def test_the_site_has_hosts_beside_the_vms_and_the_vms_are_told_their_registry(standin, discovery, healthy, hosts):
    cluster = VagrantCluster(vagrant_shape(discovery.url), "run-site", standin[1]).up()
    try:
        assert cluster.deploys and cluster.down_removes_the_site
        hosts_network = ipaddress.IPv4Network(cluster.shape.vagrant.hosts_subnet)
        assert cluster.registry == f"{hosts_network.network_address + cluster.shape.lab_hosts['registry']}:" \
                                   f"{cluster.shape.lab_ports['registry']}"
        files = {f["path"]: f["content"] for f in yaml.safe_load((standin[1] / "user-data").read_text())["write_files"]}
        assert f"WPCLUSTER_REGISTRY={cluster.registry}\n" in files["/etc/environment"]
        assert json.loads(files["/etc/docker/daemon.json"]) == {"insecure-registries": [cluster.registry]}
        secrets = cluster.secrets()
        assert cluster.secrets() == secrets and cluster.secrets_path.stat().st_mode & 0o777 == 0o600
        assert hosts.asked == ["up fresh=True discovery=False"]
    finally:
        cluster.down()
    assert hosts.asked[-1] == "down" and not cluster.secrets_path.exists()


def test_the_host_discovery_service_makes_the_token_before_the_machines(standin, discovery, healthy, hosts):
    hosts.service = discovery.url
    shape = vagrant_shape(discovery.url)
    shape = dataclasses.replace(shape, vagrant=dataclasses.replace(shape.vagrant, discovery_service="host"))
    cluster = VagrantCluster(shape, "run-hostdisc", standin[1]).up()
    try:
        assert hosts.asked == ["up fresh=True discovery=True"]
        assert cluster.discovery_url.startswith(f"{discovery.url}/v2/keys/_etcd/registry/")
        assert discovery.asked == [f"PUT {cluster.discovery_url.removeprefix(discovery.url)}/_config/size"]
    finally:
        cluster.close()


# ---- clear errors ------------------------------------------------------------------------------------
def test_no_vagrant_binary(standin, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(VagrantError, match="no `vagrant` program on PATH") as err:
        VagrantCluster(load_shape(), "run-nobin", standin[1])
    assert "apt-get install vagrant" in str(err.value)


def test_no_vagrantfile_in_the_checkout(standin, tmp_path):
    with pytest.raises(VagrantError, match="(?s)has no Vagrantfile.*coreos-vagrant checkout"):
        VagrantCluster(load_shape(), "run-novf", tmp_path / "empty")


def test_missing_provider_plugin_is_named_before_anything_is_created(standin, discovery, monkeypatch):
    monkeypatch.setenv("VAGRANT_STANDIN_PLUGINS", "")
    with pytest.raises(VagrantError, match="(?s)needs the vagrant-libvirt plugin.*vagrant plugin install"):
        VagrantCluster(vagrant_shape(discovery.url), "run-noplugin", standin[1]).up()
    assert not [c for c in calls(standin[0]) if c[0] == "up"] and discovery.asked == []


def test_virtualbox_without_vboxmanage_is_named(standin, discovery):
    with pytest.raises(VagrantError, match="virtualbox provider needs VBoxManage"):
        VagrantCluster(vagrant_shape(discovery.url, provider="virtualbox"), "run-novbox", standin[1]).up()


def test_a_box_that_cannot_be_had(standin, discovery, monkeypatch):
    monkeypatch.setenv("VAGRANT_STANDIN_BOXES", "")
    monkeypatch.setitem(vagrant_provider.BOX_URLS, "coreos", closed_port_url() + "/{channel}.json")
    with pytest.raises(VagrantError, match="box coreos-beta is not installed and cannot be had") as err:
        VagrantCluster(vagrant_shape(discovery.url), "run-nobox", standin[1]).up()
    assert "vagrant box add coreos-beta" in str(err.value)


def test_a_box_vagrant_itself_cannot_download(standin, discovery, monkeypatch, hosts):
    monkeypatch.setenv("VAGRANT_STANDIN_UP_ERROR", "The box 'coreos-beta' could not be found or could not be "
                       "accessed in the remote catalog.")
    with pytest.raises(VagrantError, match="(?s)box coreos-beta cannot be had:.*remote catalog"):
        VagrantCluster(vagrant_shape(discovery.url), "run-updl", standin[1]).up()
    assert ["destroy", "--force"] in calls(standin[0]), "a failed bring-up left what it created"
    assert hosts.asked == ["up fresh=True discovery=False", "down"], "a failed bring-up left the hosts it started"


def test_a_provider_vagrant_itself_does_not_know(standin, discovery, monkeypatch):
    monkeypatch.setenv("VAGRANT_STANDIN_UP_ERROR", "The provider 'libvirt' could not be found, but was requested")
    with pytest.raises(VagrantError, match="no such VM provider"):
        VagrantCluster(vagrant_shape(discovery.url), "run-upprov", standin[1]).up()


def test_a_discovery_service_that_does_not_answer(standin, healthy):
    url = closed_port_url()
    with pytest.raises(WpclusterError, match=f"discovery service {url}/new\\?size=3 does not answer") as err:
        VagrantCluster(vagrant_shape(url), "run-nodisc", standin[1]).up()
    assert "[vagrant] discovery_service" in str(err.value)
    assert not [c for c in calls(standin[0]) if c[0] == "up"], "machines were created without a discovery URL"


def test_a_discovery_service_that_answers_no_token(standin, healthy):
    service = Discovery(answer="<html>maintenance</html>")
    try:
        with pytest.raises(WpclusterError, match="without a token URL"):
            VagrantCluster(vagrant_shape(service.url), "run-badtoken", standin[1]).up()
    finally:
        service.close()


def test_the_cli_reports_status_and_destroys_through_vagrant(standin, capsys):
    from wpcluster.cli import main

    state, checkout = standin
    (state / "state.json").write_text(json.dumps({"core-01": "running", "core-02": "poweroff",
                                                  "core-03": "saved"}))
    assert main(["vagrant", "status", "--vagrant-dir", str(checkout)]) == 0
    assert capsys.readouterr().out.split() == ["core-01", "running", "core-02", "poweroff", "core-03", "saved"]
    assert main(["vagrant", "destroy", "--vagrant-dir", str(checkout)]) == 0
    assert ["destroy", "--force"] in calls(state)
    assert main(["vagrant", "up"]) == 2  # no checkout named: a clear error, not a traceback
    assert "--vagrant-dir" in capsys.readouterr().err


def test_the_fleet_tunnel_goes_through_the_first_machine_whose_ssh_greets():
    silent, greeting = socket.socket(), socket.socket()
    for server in (silent, greeting):
        server.bind(("127.0.0.1", 0))
        server.listen()

    def greet() -> None:
        conn, _ = greeting.accept()
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    threading.Thread(target=greet, daemon=True).start()
    try:
        assert not vagrant_provider.ssh_answers(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert vagrant_provider.ssh_answers(f"127.0.0.1:{greeting.getsockname()[1]}")
        assert not vagrant_provider.ssh_answers(closed_port_url().removeprefix("http://"))
    finally:
        silent.close()
        greeting.close()


def test_the_sites_port_taken_on_the_host_is_named_before_anything_is_created(standin, discovery, monkeypatch, hosts):
    monkeypatch.setattr(VagrantCluster, "check_site_port_free", CHECK_SITE_PORT_FREE)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        shape = dataclasses.replace(vagrant_shape(discovery.url), site_port=holder.getsockname()[1])
        with pytest.raises(VagrantError, match=f"port {shape.site_port} on this host is taken") as err:
            VagrantCluster(shape, "run-porttaken", standin[1]).up()
    assert "[cluster] site_port" in str(err.value)
    assert not [c for c in calls(standin[0]) if c[0] == "up"] and discovery.asked == []


def test_machines_that_cannot_reach_the_hosts_are_named_and_destroyed(standin, discovery, monkeypatch, hosts):
    monkeypatch.setattr(VagrantCluster, "wait_healthy", lambda self, timeout=0: None)
    with pytest.raises(VagrantError, match="core-01 cannot reach the registry beside the VMs") as err:
        VagrantCluster(vagrant_shape(discovery.url), "run-unreachable", standin[1]).up()
    assert "hosts_subnet" in str(err.value)
    assert ["destroy", "--force"] in calls(standin[0]) and hosts.asked[-1] == "down"
