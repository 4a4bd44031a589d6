"""A single-node Apache Kafka 4 broker (KRaft) from Maven Central jars, run on loopback ports."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import zipfile
from importlib import resources
from pathlib import Path

from pasokh.infra.cache import build_once
from pasokh.infra.errors import InfraError
from pasokh.infra.process import ManagedProcess, free_port, port_is_free

KAFKA_VERSION = "4.4.0"
_RESOURCES = resources.files("pasokh.infra") / "kafka"


def _require(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise InfraError(f"finding `{tool}` on PATH ({why})", f"install {tool} (e.g. apt-get install {tool})")
    return path


def install() -> Path:
    """The directory of Kafka's runtime jars, downloaded once with Maven into the cache."""

    def download(work: Path) -> None:
        mvn = _require("mvn", "it downloads Kafka's jars from Maven Central")
        pom = work / "pom.xml"
        pom.write_text(_RESOURCES.joinpath("pom.xml").read_text().replace("@KAFKA_VERSION@", KAFKA_VERSION))
        lib = work / "lib"
        step = f"downloading Kafka {KAFKA_VERSION} jars from Maven Central (mvn dependency:copy-dependencies)"
        try:
            result = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={lib}",
                    "-DincludeScope=runtime",
                ],
                capture_output=True,
                text=True,
                timeout=900,
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(step, "timed out after 900s") from exc
        if result.returncode != 0:
            raise InfraError(step, (result.stdout + result.stderr)[-4000:])
        jar = lib / f"kafka_2.13-{KAFKA_VERSION}.jar"
        if not jar.exists():
            raise InfraError(step, f"{jar.name} is missing from the downloaded classpath")
        with zipfile.ZipFile(jar) as archive:
            names = set(archive.namelist())
        for main_class in ("kafka/Kafka.class", "kafka/tools/StorageTool.class"):
            if main_class not in names:
                raise InfraError(step, f"{jar.name} lacks {main_class}")

    return build_once(f"kafka-{KAFKA_VERSION}", download) / "lib"


class KafkaBroker:
    """A combined broker+controller whose data lives in ``data_dir``."""

    def __init__(self, data_dir: Path, *, heap: str = "512m") -> None:
        self.data_dir = data_dir.resolve()
        self.heap = heap
        self.port = 0
        self.controller_port = 0
        self.process: ManagedProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:port`` of the PLAINTEXT listener."""
        return f"127.0.0.1:{self.port}"

    def _choose_ports(self) -> None:
        # Reuse the ports of an earlier run on the same data when they are free: the controller's
        # address is part of the KRaft quorum configuration the data was formatted with.
        saved = self.data_dir / "ports.json"
        if saved.exists():
            ports = json.loads(saved.read_text())
            if port_is_free(ports["broker"]) and port_is_free(ports["controller"]):
                self.port, self.controller_port = ports["broker"], ports["controller"]
                return
        self.port, self.controller_port = free_port(), free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        saved.write_text(json.dumps({"broker": self.port, "controller": self.controller_port}))

    def _write_config(self) -> Path:
        logs = self.data_dir / "logs"
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={logs}",
                    "num.partitions=6",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "",
                ]
            )
        )
        return config

    def start(self, *, timeout: float = 120.0) -> None:
        """Install if needed, format the data directory once, start, and wait until it serves."""
        lib = install()
        java = _require("java", "Kafka runs on the JVM")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._choose_ports()
        config = self._write_config()
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(_RESOURCES.joinpath("log4j2.properties").read_text())
        classpath = f"{lib}/*"
        jvm = [java, f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath]
        if not (self.data_dir / "logs" / "meta.properties").exists():
            self._format(jvm, config)
        self.process = ManagedProcess(
            "kafka",
            [
                *jvm[:1],
                f"-Xms{self.heap}",
                f"-Xmx{self.heap}",
                "-XX:+UseG1GC",
                *jvm[1:],
                "kafka.Kafka",
                str(config),
            ],
            log_path=self.data_dir / "kafka.log",
        )
        self.process.start()
        self.process.wait_until(self._answers, timeout=timeout, what="starting Kafka")

    def _format(self, jvm: list[str], config: Path) -> None:
        step = "formatting Kafka's storage (kafka.tools.StorageTool)"
        uuid = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "random-uuid"], capture_output=True, text=True
        )
        cluster_id = (
            uuid.stdout.strip().splitlines()[-1] if uuid.returncode == 0 and uuid.stdout.strip() else ""
        )
        if not cluster_id:
            raise InfraError(step, uuid.stdout + uuid.stderr)
        result = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise InfraError(step, result.stdout + result.stderr)

    def _answers(self) -> bool:
        from kafka.admin import KafkaAdminClient

        # Knock first: an admin client pointed at a closed port retries and leaks sockets.
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            pass
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000)
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    def stop(self) -> None:
        """Stop the broker (controlled shutdown, then SIGKILL after a timeout)."""
        if self.process is not None:
            self.process.stop(timeout=30)
