"""The site's lab hosts outside the fleet cluster: MariaDB, the S3 store, the fault proxy, the top LB.

``SiteHosts`` builds and pushes the site's images, starts these hosts on the lab network (each
on its address from the shape), and hands faults the handles they act on: the hosts themselves
(``service_host``) and the fault proxy's path to each (``service_path``).
"""

from __future__ import annotations

import docker
import docker.errors

from wpcluster.clients.s3 import ensure_bucket
from wpcluster.core.cluster import SiteServices
from wpcluster.core.errors import LabError
from wpcluster.core.progress import step
from wpcluster.core.secrets import Secrets
from wpcluster.core.waits import eventually
from wpcluster.providers.hosts import fault_proxy, top_lb
from wpcluster.providers.hosts.containers import HostEngine, tarball
from wpcluster.providers.hosts.images import IMAGE_LABEL, ImageBuilder
from wpcluster.providers.hosts.service_host import ContainerServiceHost, tcp_open

# Images the nodes pull from the lab registry (the units name them); the rest run as lab hosts.
SITE_IMAGES = ("vulcand", "sidekick", "wordpress")
FAULT_PROXY_SYN_RETRIES = "1"


class SiteHosts:
    """The lab's hosts beside the nodes that the site needs, managed through the lab's engine."""

    def __init__(self, lab: HostEngine) -> None:
        self.lab, self.shape, self.client = lab, lab.shape, lab.client

    def prepare(self, secrets: Secrets) -> SiteServices:
        """Build and push the site's images; start MariaDB, the S3 store, the fault proxy and the top LB
        (each only when it is not running already); make the bucket once."""
        builder = ImageBuilder(self.client, self.shape)
        with step("site images"):
            images = {name: builder.image(name) for name in (*SITE_IMAGES, "mariadb", "s3", "faultproxy", "lb")}
        with step("pushing site images to the lab registry"):
            for name in SITE_IMAGES:
                self.lab.push_image(images[name], f"wpcluster/{name}")
        if not self.running("db"):
            self._start_db(images["mariadb"], secrets)
        s3_is_new = not self.running("s3")
        if s3_is_new:
            self.start_store(images["s3"], secrets["WORDPRESS_CACHE_S3_KEY"], secrets["WORDPRESS_CACHE_S3_SECRET"])
        if not self.running("faultproxy"):
            self._start_fault_proxy(images["faultproxy"])
        if not self.running("lb"):
            self._start_lb(images["lb"])
        shape, bucket = self.shape, self.shape.site.bucket
        # WordPress reaches MariaDB and the store through the fault proxy; the harness goes straight.
        services = SiteServices(
            db_host=fault_proxy.proxied_endpoint(shape, "db"),
            s3_endpoint=f"http://{fault_proxy.proxied_endpoint(shape, 's3')}",
            s3_harness_endpoint=f"http://{shape.host_endpoint('s3')}",
            bucket=bucket,
            public_url=f"http://{shape.host_endpoint('s3')}/{bucket}",
        )
        with step("waiting for MariaDB, the S3 store and the fault proxy"):
            for role, within in (("db", 120), ("faultproxy", 30)):
                eventually(lambda role=role: tcp_open(shape.host_address(role), shape.lab_ports[role]), within, 0.5,
                           what=f"the {role} host answering at {shape.host_endpoint(role)}")
            if s3_is_new:  # the store is the lab's: it comes with the site's bucket and its policy, once
                eventually(lambda: ensure_bucket(services, secrets), 60, 0.5,
                           what=f"bucket {bucket} at {services.s3_harness_endpoint}")
        return services

    def _start_db(self, image: str, secrets: Secrets) -> None:
        site = self.shape.site
        volume = self.client.volumes.create(self.lab.container_name("db-data"), labels=self.lab.labels("db-data"))
        self.lab.run_host("db", image, self.shape.host_address("db"),
                          volumes={volume.name: {"bind": "/var/lib/mysql", "mode": "rw"}},
                          command=[f"--port={self.shape.lab_ports['db']}"],
                          environment={"MARIADB_DATABASE": site.database, "MARIADB_USER": site.db_user,
                                       "MARIADB_PASSWORD": secrets["WORDPRESS_DB_PASSWORD"],
                                       "MARIADB_ROOT_PASSWORD": secrets["MARIADB_ROOT_PASSWORD"]})

    def _start_fault_proxy(self, image: str) -> None:
        # A connect to a host that is gone (MariaDB stopped: its address answers nothing) is given up
        # after one SYN, as PHP's own 1 s connect bound would. At Linux's default (6 retries, two
        # minutes) the proxy kept hundreds of dials pending, and they all landed on MariaDB the
        # moment it returned: 800 dead connections in its first seconds held the site down 5 s longer.
        proxy = self.lab.run_host("faultproxy", image, self.shape.host_address("faultproxy"), start=False,
                                  command=["-port", str(self.shape.lab_ports["faultproxy"])],
                                  sysctls={"net.ipv4.tcp_syn_retries": FAULT_PROXY_SYN_RETRIES})
        proxy.put_archive("/", tarball({"etc/toxiproxy.json": (fault_proxy.proxy_config(self.shape), 0o644)}))
        proxy.start()

    def _start_lb(self, image: str) -> None:
        port, published = self.shape.site_port, self.lab.lb_port_on_host
        lb = self.lab.run_host("lb", image, self.shape.host_address("lb"), start=False,
                               ports={f"{port}/tcp": ("127.0.0.1", published)})
        config = top_lb.haproxy_config(self.shape, self.lab.node_addresses)
        lb.put_archive("/", tarball({top_lb.HAPROXY_CFG.lstrip("/"): (config, 0o644)}))
        try:
            lb.start()
        except docker.errors.APIError as exc:
            where = f"127.0.0.1:{published}" if published else "a free loopback port"
            raise LabError(f"the top load balancer cannot listen on {where}: {exc.explanation}",
                           f"free that port, or change [cluster] site_port in {self.shape.source}") from None

    def start_store(self, image: str, key: str, secret: str) -> None:
        """(Re)start the S3 store with the given credential; its objects live on a volume and survive.

        The site's key is the store's own credential (MinIO's root user). Starting it with another
        secret is how a test rotates the store's credential behind the site's back.
        """
        volume = self.client.volumes.create(self.lab.container_name("s3-data"), labels=self.lab.labels("s3-data"))
        self.lab.run_host("s3", image, self.shape.host_address("s3"),
                          volumes={volume.name: {"bind": "/var/lib/minio", "mode": "rw"}},
                          environment={"S3_ACCESS_KEY": key, "S3_SECRET_KEY": secret,
                                       "S3_PORT": str(self.shape.lab_ports["s3"])})

    def service_host(self, role: str) -> ContainerServiceHost:
        if role not in ("db", "s3") or not self.exists(role):
            raise LabError(f"the lab has no {role} host to break", "deploy the site first (wpcluster deploy)")
        return ContainerServiceHost(self.client, self.lab.container_name(role), role, self.shape.host_address(role),
                              self.shape.lab_ports[role])

    def service_path(self, role: str) -> fault_proxy.ToxiproxyPath:
        if role not in fault_proxy.ROLES or not self.running("faultproxy"):
            raise LabError(f"the lab has no fault proxy in front of its {role} host",
                           "deploy the site first (wpcluster deploy)")
        return fault_proxy.ToxiproxyPath(f"http://{self.shape.host_endpoint('faultproxy')}", role)

    def host_versions(self) -> dict:
        """MariaDB, MinIO, HAProxy and the host's Docker, asked; every lab image's ID by tag."""
        asks = {"MariaDB": ("db", "mariadbd --version"), "MinIO (S3 store)": ("s3", "minio --version"),
                "HAProxy (top LB)": ("lb", "haproxy -v")}
        info = self.client.info()
        # Which cgroup version the lab was certified on: its nodes' systemd and dockerd run on the host's.
        cgroup = f"cgroup v{info.get('CgroupVersion', '?')} ({info.get('CgroupDriver', '?')} driver"
        if info.get("CgroupVersion") == "2":
            # A cgroup v2 mount beside v1 hierarchies (a hybrid host) holds only the controllers no v1
            # hierarchy took, often none: then no limit could be set on a node, and the report says so.
            cgroup += f", controllers {self.delegated_controllers() or 'none'}"
        components = {"Docker (host)": f"{self.client.version().get('Version', 'unknown')}, {cgroup})"}
        for name, (role, command) in asks.items():
            try:
                out = self.client.containers.get(self.lab.container_name(role)).exec_run(command).output.decode()
                components[name] = out.strip().splitlines()[0] if out.strip() else "unknown"
            except docker.errors.DockerException as exc:
                components[name] = f"unknown ({exc})"
        images = {tag: image.id for image in self.client.images.list(filters={"label": IMAGE_LABEL})
                  for tag in image.tags}
        return {"components": components, "images": dict(sorted(images.items()))}

    def delegated_controllers(self) -> str:
        """The cgroup v2 controllers a lab container is given (as its nodes are), as the kernel lists them."""
        try:
            out = self.client.containers.get(self.lab.container_name("lb")).exec_run(
                "cat /sys/fs/cgroup/cgroup.controllers").output.decode()
        except docker.errors.DockerException as exc:
            return f"unknown ({exc})"
        return out.strip()

    def exists(self, role: str) -> bool:
        try:
            self.client.containers.get(self.lab.container_name(role))
            return True
        except docker.errors.NotFound:
            return False

    def running(self, role: str) -> bool:
        try:
            return self.client.containers.get(self.lab.container_name(role)).status == "running"
        except docker.errors.NotFound:
            return False
