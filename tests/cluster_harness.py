"""Private Redis Cluster and Redis Sentinel deployments on loopback, for tests.

:class:`RedisClusterSet` runs N masters with R replicas each (``redis-cli --cluster
create``); :class:`SentinelSet` runs one master, one replica and three sentinels. Both are
built from :class:`tests.redis_harness.RedisServer` processes, so every server gets a free
port, dies with this process (``PR_SET_PDEATHSIG``) and is stopped at interpreter exit.

Every state change (start, failover, a killed master, a restarted node) is followed by
polling, with a deadline, until the whole deployment agrees on the new topology; a
timeout raises :class:`RedisHarnessError` with the unmet condition and the servers' log
tails. Nothing is persisted: a restarted node comes back empty (a replica then resyncs).
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry
from redis.sentinel import Sentinel

from tests.redis_harness import (
    STOP_TIMEOUT,
    RedisHarnessError,
    RedisServer,
    find_redis_server_binary,
    free_port,
    port_is_open,
)

__all__ = [
    "WAIT_TIMEOUT",
    "ManagedServer",
    "RedisClusterSet",
    "SentinelSet",
    "find_redis_cli_binary",
]

#: The longest any single wait (startup, failover, rejoin) may take.
WAIT_TIMEOUT = 30.0
CLUSTER_SLOTS = 16384
_POLL = 0.05
_LOG_LINES = 12

#: For data nodes: a full sync starts at once (the default waits 5 s for more replicas),
#: and leaves no dump.rdb behind on the replica (a restarted node must come back empty).
_FAST_EMPTY_SYNC = ("--repl-diskless-sync-delay", "0", "--rdb-del-sync-files", "yes")

_live: set[RedisClusterSet | SentinelSet] = set()


@cache
def _server_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    if match is None:
        raise RedisHarnessError(f"cannot read the version of {binary}: {out!r}")
    return tuple(int(part) for part in match.groups())


def find_redis_cli_binary(server_binary: str | None = None) -> str:
    """The ``redis-cli`` next to the redis-server in use, else the one on ``PATH``."""
    sibling = Path(server_binary or find_redis_server_binary()).with_name("redis-cli")
    if sibling.is_file():
        return str(sibling)
    on_path = shutil.which("redis-cli")
    if on_path:
        return on_path
    raise RedisHarnessError("No redis-cli binary found (needed for `redis-cli --cluster create`)")


class ManagedServer(RedisServer):
    """A :class:`RedisServer` that can also be SIGKILLed (it stays down until started)."""

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    def kill(self) -> None:
        """SIGKILL the process and reap it: no shutdown, no goodbye to peers."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait(STOP_TIMEOUT)

    def forget_data(self) -> None:
        """Delete the RDB a replica's full sync may have left, so a restart starts empty."""
        if self._data_dir is not None:
            (self._data_dir / "dump.rdb").unlink(missing_ok=True)

    def log_tail(self, lines: int = _LOG_LINES) -> str:
        try:
            assert self._log_path is not None
            text = self._log_path.read_text(errors="replace")
        except (OSError, AssertionError):
            return "    <no log>"
        return "\n".join("    " + line for line in text.splitlines()[-lines:])


def _admin(server: RedisServer) -> redis.Redis:
    """A client for health checks: short timeouts, no retries, str replies, RESP2 (raw
    replies to ``CLUSTER``/``SENTINEL`` subcommands: no redis-py response callbacks)."""
    return server.client(
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
        protocol=2,
    )


def _call(server: RedisServer, *args: Any) -> Any:
    client = _admin(server)
    try:
        return client.execute_command(*args)
    finally:
        client.close()


def _info(server: RedisServer, section: str) -> dict[str, Any]:
    client = _admin(server)
    try:
        return dict(client.info(section))
    finally:
        client.close()


def _wait_until(
    condition: Callable[[], str | None],
    what: str,
    timeout: float,
    servers: Iterable[ManagedServer],
) -> None:
    """Poll ``condition`` (``None`` = done, else what is still wrong) until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            problem = condition()
        except redis.RedisError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            return
        if time.monotonic() > deadline:
            logs = "\n".join(f"  {server!r} log tail:\n{server.log_tail()}" for server in servers)
            raise RedisHarnessError(
                f"{what}: not done within {timeout:.0f}s; still: {problem}\n{logs}"
            )
        time.sleep(_POLL)


def _start_fresh(make: Callable[[], ManagedServer], attempts: int = 3) -> ManagedServer:
    """Start a server made with freshly picked ports, picking again if one was taken."""
    for attempt in range(attempts):
        server = make()
        try:
            server.start()
            return server
        except RedisHarnessError:
            with contextlib.suppress(Exception):
                server.stop()
            if attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


def _pick_ports(binary: str, taken: set[int]) -> tuple[int, int]:
    """A client port and a cluster-bus port, both free and not used by this deployment."""
    if _server_version(binary) >= (7, 0, 0):  # cluster-port: any free port will do
        while True:
            port, bus = free_port(), free_port()
            if port != bus and not {port, bus} & taken:
                return port, bus
    for _ in range(100):  # older servers: the bus is always port + 10000
        port = free_port()
        bus = port + 10000
        if bus <= 65535 and not {port, bus} & taken and not port_is_open("127.0.0.1", bus):
            return port, bus
    raise RedisHarnessError("found no free port whose port+10000 is free too")


# --- Redis Cluster -------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClusterNodeView:
    """One line of ``CLUSTER NODES``."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    link_state: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_primary(self) -> bool:
        return "master" in self.flags and bool(self.slots)

    @property
    def is_replica(self) -> bool:
        return "slave" in self.flags


def _parse_cluster_nodes(text: str) -> dict[str, _ClusterNodeView]:
    nodes: dict[str, _ClusterNodeView] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, address, flags, master = parts[:4]
        port_text = address.split("@", 1)[0].rsplit(":", 1)[-1]
        slots: list[tuple[int, int]] = []
        for item in parts[8:]:
            if item.startswith("["):  # a slot being imported/migrated: not owned yet
                continue
            first, _, last = item.partition("-")
            slots.append((int(first), int(last or first)))
        nodes[node_id] = _ClusterNodeView(
            node_id=node_id,
            port=int(port_text) if port_text.isdigit() else 0,
            flags=frozenset(flags.split(",")),
            master_id=None if master == "-" else master,
            link_state=parts[7],
            slots=tuple(sorted(slots)),
        )
    return nodes


def _slot_map(view: dict[str, _ClusterNodeView]) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        sorted(
            (first, last, node.node_id)
            for node in view.values()
            if "master" in node.flags
            for first, last in node.slots
        )
    )


_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})


class RedisClusterSet:
    """A private Redis Cluster: ``masters`` primaries with ``replicas`` replicas each.

    ``start()`` returns once every node reports ``cluster_state:ok``, all 16384 slots are
    covered, all nodes agree on who owns them and every replica is attached and in sync.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        masters: int = 3,
        replicas: int = 1,
        *,
        node_timeout_ms: int = 1000,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
        timeout: float = WAIT_TIMEOUT,
    ) -> None:
        if masters < 3:
            raise ValueError("Redis Cluster needs at least 3 masters")
        self.n_masters = masters
        self.n_replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        self.extra_args = tuple(extra_args)
        self.timeout = timeout
        self._binary = binary
        self._tmpdir: Path | None = None
        self._servers: list[ManagedServer] = []
        self._ids: dict[ManagedServer, str] = {}
        self._ports: set[int] = set()  # client and bus ports picked so far

    def __repr__(self) -> str:
        ports = ",".join(str(server.port) for server in self._servers)
        return f"<RedisClusterSet {self.n_masters}x{self.n_replicas} ports={ports or '-'}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._tmpdir is not None:
            return self
        binary = self._binary or find_redis_server_binary()
        cli = find_redis_cli_binary(binary)
        self._tmpdir = Path(tempfile.mkdtemp(prefix="pctest-cluster-"))
        _live.add(self)
        try:
            for index in range(self.n_masters * (1 + self.n_replicas)):
                self._servers.append(_start_fresh(partial(self._new_node, binary, index)))
            addresses = [f"{server.host}:{server.port}" for server in self._servers]
            try:
                created = subprocess.run(
                    [cli, "--cluster", "create", *addresses,
                     "--cluster-replicas", str(self.n_replicas), "--cluster-yes"],
                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                    timeout=self.timeout,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                raw: str | bytes = exc.stdout or b""
                output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
                raise RedisHarnessError(
                    f"redis-cli --cluster create took over {self.timeout}s:\n{output}"
                ) from exc
            if created.returncode != 0:
                raise RedisHarnessError(
                    f"redis-cli --cluster create failed ({created.returncode}):\n"
                    f"{created.stdout}\n{created.stderr}"
                )
            for server in self._servers:
                self._ids[server] = _call(server, "CLUSTER", "MYID")
            self.wait_ok("cluster start")
        except BaseException:
            self.stop()
            raise
        return self

    def _new_node(self, binary: str, index: int) -> ManagedServer:
        assert self._tmpdir is not None
        port, bus = _pick_ports(binary, self._ports)
        self._ports |= {port, bus}
        data_dir = self._tmpdir / f"node-{index}"
        shutil.rmtree(data_dir, ignore_errors=True)  # nothing left from a failed attempt
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(data_dir / "nodes.conf"),
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--cluster-replica-validity-factor", "0",
            # Replicas stay with the master they were given: the topology is the test's.
            "--cluster-allow-replica-migration", "no",
            *_FAST_EMPTY_SYNC,
            *(["--cluster-port", str(bus)] if bus != port + 10000 else []),
            *self.extra_args,
        ]  # fmt: skip
        return ManagedServer(port, args, data_dir=data_dir, binary=binary)

    def stop(self) -> None:
        """Stop every node and remove the data directories."""
        errors: list[str] = []
        for server in self._servers:
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(f"{server!r}: {exc}")
        self._servers.clear()
        self._ids.clear()
        self._ports.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        _live.discard(self)
        if errors:
            raise RedisHarnessError("could not stop every cluster node: " + "; ".join(errors))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the cluster says ---------------------------------------------------------------

    @property
    def servers(self) -> list[ManagedServer]:
        """Every node, running or not, in creation order."""
        return list(self._servers)

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(server.host, server.port) for server in self._servers]

    @property
    def urls(self) -> list[str]:
        """``redis://127.0.0.1:port`` of the current primaries."""
        return [f"redis://{server.host}:{server.port}" for server in self.masters()]

    def client(self, **kwargs: Any) -> RedisCluster:
        """A new ``redis.cluster.RedisCluster`` for this cluster; ``kwargs`` go to it."""
        nodes = [ClusterNode(s.host, s.port) for s in self._servers if s.running]
        return RedisCluster(startup_nodes=nodes, **kwargs)

    def node_id(self, server: ManagedServer) -> str:
        return self._ids[self._own(server)]

    def _own(self, server: RedisServer) -> ManagedServer:
        for ours in self._servers:
            if ours is server:
                return ours
        raise RedisHarnessError(f"{server!r} is not a node of {self!r}")

    def _by_id(self, node_id: str) -> ManagedServer:
        for server, known in self._ids.items():
            if known == node_id:
                return server
        raise RedisHarnessError(f"node {node_id} is not one of ours")

    def _view(self) -> dict[str, _ClusterNodeView]:
        """``CLUSTER NODES`` as seen by the first running node that answers."""
        last: Exception | None = None
        for server in self._servers:
            if server.running:
                try:
                    return _parse_cluster_nodes(_call(server, "CLUSTER", "NODES"))
                except redis.RedisError as exc:
                    last = exc
        raise RedisHarnessError(f"no node of {self!r} answers CLUSTER NODES: {last}")

    def masters(self) -> list[ManagedServer]:
        """The nodes that currently own slots, in slot order (roles change on failover)."""
        view = self._view()
        owners = dict.fromkeys(node_id for _, _, node_id in _slot_map(view))
        return [self._by_id(node_id) for node_id in owners]

    def replicas(self) -> list[ManagedServer]:
        """The nodes the cluster lists as replicas, in creation order."""
        view = self._view()
        ids = {node.node_id for node in view.values() if node.is_replica}
        return [server for server in self._servers if self._ids.get(server) in ids]

    def replicas_of(self, master: ManagedServer) -> list[ManagedServer]:
        """The replicas the cluster lists for ``master`` (running or not)."""
        master_id = self.node_id(master)
        view = self._view()
        ids = {n.node_id for n in view.values() if n.is_replica and n.master_id == master_id}
        return [server for server in self._servers if self._ids.get(server) in ids]

    def slots_of(self, master: ManagedServer) -> list[tuple[int, int]]:
        node = self._view().get(self.node_id(master))
        return list(node.slots) if node is not None else []

    def node_for_key(self, key: str | bytes) -> ManagedServer:
        """The primary that currently owns ``key``'s slot."""
        slot = key_slot(key.encode() if isinstance(key, str) else key)
        for first, last, node_id in _slot_map(self._view()):
            if first <= slot <= last:
                return self._by_id(node_id)
        raise RedisHarnessError(f"slot {slot} is not assigned in {self!r}")

    # -- health ------------------------------------------------------------------------------

    def problem(self) -> str | None:
        """``None`` if the cluster is fully healthy, else the first thing that is not."""
        running = [server for server in self._servers if server.running]
        if not running:
            return "no node is running"
        views: dict[ManagedServer, dict[str, _ClusterNodeView]] = {}
        for server in running:
            info = dict(
                line.split(":", 1)
                for line in _call(server, "CLUSTER", "INFO").splitlines()
                if ":" in line
            )
            if info.get("cluster_state") != "ok":
                return f"{server!r} says cluster_state:{info.get('cluster_state')}"
            for field in ("cluster_slots_assigned", "cluster_slots_ok"):
                if int(info.get(field, 0)) != CLUSTER_SLOTS:
                    return f"{server!r} says {field}:{info.get(field)}"
            if int(info.get("cluster_known_nodes", 0)) != len(self._servers):
                return f"{server!r} knows {info.get('cluster_known_nodes')} nodes"
            views[server] = _parse_cluster_nodes(_call(server, "CLUSTER", "NODES"))

        first_server, first_view = next(iter(views.items()))
        slot_map = _slot_map(first_view)
        if sum(last - first + 1 for first, last, _ in slot_map) != CLUSTER_SLOTS:
            return f"{first_server!r} sees {len(slot_map)} slot ranges not covering all slots"
        for server, view in views.items():
            if _slot_map(view) != slot_map:
                return f"{server!r} and {first_server!r} disagree on who owns which slots"
        primaries = {node_id for _, _, node_id in slot_map}
        for node_id in primaries:
            if not self._by_id(node_id).running:
                return f"slots are still owned by stopped {self._by_id(node_id)!r}"

        for server in running:
            node_id = self._ids[server]
            for viewer, view in views.items():
                node = view.get(node_id)
                if node is None or node.flags & _BAD_FLAGS or node.link_state != "connected":
                    flags = ",".join(sorted(node.flags)) if node else "unknown"
                    return f"{viewer!r} sees {server!r} as {flags}"
            if node_id in primaries:
                continue
            replication = _info(server, "replication")
            master_port = replication.get("master_port")
            if (
                replication.get("role") != "slave"
                or replication.get("master_link_status") != "up"
                or replication.get("master_sync_in_progress")
            ):
                return f"{server!r} is not an attached replica yet: {replication.get('role')}"
            master = next((s for s in running if s.port == master_port), None)
            if master is None or self._ids[master] not in primaries:
                return f"{server!r} replicates port {master_port}, which is not a primary"
            for viewer, view in views.items():
                if view[node_id].master_id != self._ids[master] or not view[node_id].is_replica:
                    return f"{viewer!r} does not list {server!r} as a replica of {master!r}"
        return None

    def wait_ok(self, what: str = "cluster ok", timeout: float | None = None) -> None:
        """Poll until :meth:`problem` is ``None`` (or raise with the nodes' log tails)."""
        _wait_until(self.problem, what, timeout or self.timeout, self._servers)

    # -- changes -----------------------------------------------------------------------------

    def restart_node(self, server: ManagedServer) -> None:
        """Stop (if running) and start ``server`` on the same port and cluster config file,
        without its data, then wait until the cluster is ok. A restarted master may lose
        its slots to its replica meanwhile; either outcome is fine."""
        server = self._own(server)
        server.stop()
        server.forget_data()
        server.start(self.timeout)
        self.wait_ok(f"{server!r} rejoining")

    def repair(self) -> None:
        """Restart every node that is down, then wait until the cluster is ok."""
        for server in self._servers:
            if not server.running:
                server.stop()
                server.forget_data()
                server.start(self.timeout)
        self.wait_ok("repairing the cluster")

    def _promotion(
        self, ranges: list[tuple[int, int]], candidates: list[ManagedServer]
    ) -> Callable[[], str | None]:
        ids = {self._ids[candidate] for candidate in candidates}

        def promoted() -> str | None:
            owners = {
                node_id
                for first, last, node_id in _slot_map(self._view())
                if any(first <= r_first and r_last <= last for r_first, r_last in ranges)
            }
            if not owners or not owners <= ids:
                return f"slots {ranges} are not owned by one of {candidates} yet"
            return self.problem()

        return promoted

    def _new_owner(self, ranges: list[tuple[int, int]]) -> ManagedServer:
        first_slot = ranges[0][0]
        for first, last, node_id in _slot_map(self._view()):
            if first <= first_slot <= last:
                return self._by_id(node_id)
        raise RedisHarnessError(f"slot {first_slot} is unassigned")

    def _failover_inputs(
        self, master: ManagedServer
    ) -> tuple[list[tuple[int, int]], list[ManagedServer]]:
        master = self._own(master)
        if not master.running or master not in self.masters():
            raise RedisHarnessError(f"{master!r} is not a running primary")
        ranges = self.slots_of(master)
        replicas = [replica for replica in self.replicas_of(master) if replica.running]
        if not replicas:
            raise RedisHarnessError(f"{master!r} has no running replica to take over")
        return ranges, replicas

    def failover(self, master: ManagedServer, force: bool = False) -> ManagedServer:
        """``CLUSTER FAILOVER [FORCE]`` on one of ``master``'s replicas; once it owns the
        slots and the old master has become its replica, return it."""
        ranges, replicas = self._failover_inputs(master)
        replica = replicas[0]
        command = ("CLUSTER", "FAILOVER", *(["FORCE"] if force else []))
        issued = [time.monotonic()]
        _call(replica, *command)
        promoted = self._promotion(ranges, [replica])

        def done() -> str | None:
            problem = promoted()
            # A manual failover gives up after 5 s (e.g. the master was slow to pause):
            # ask again once the previous attempt is certainly over.
            if problem is not None and time.monotonic() - issued[0] > 6.0:
                issued[0] = time.monotonic()
                _call(replica, *command)
            return problem

        _wait_until(done, f"failover of {master!r} to {replica!r}", self.timeout, self._servers)
        return replica

    def kill_master(self, master: ManagedServer) -> ManagedServer:
        """SIGKILL ``master``; once one of its replicas owns its slots and the cluster is
        ok, return that replica. The killed node stays down until :meth:`restart_node`."""
        ranges, replicas = self._failover_inputs(master)
        master.kill()
        _wait_until(
            self._promotion(ranges, replicas),
            f"a replica taking over from killed {master!r}",
            self.timeout,
            self._servers,
        )
        return self._new_owner(ranges)

    def flush(self) -> None:
        """FLUSHALL on every primary (all ours), then WAIT for their replicas."""
        for master in self.masters():
            client = _admin(master)
            try:
                client.flushall()
                attached = int(client.info("replication").get("connected_slaves", 0))
                if attached:
                    client.execute_command("WAIT", attached, 5000)
            finally:
                client.close()


# --- Redis Sentinel ------------------------------------------------------------------------


def _pairs(reply: Sequence[Any]) -> dict[str, str]:
    return {str(reply[i]): str(reply[i + 1]) for i in range(0, len(reply) - 1, 2)}


class SentinelSet:
    """A master, a replica (``--replicaof``) and three sentinels monitoring them as
    ``service_name`` (quorum 2). ``start()`` returns once every sentinel sees the master,
    the replica and the other sentinels."""

    host = "127.0.0.1"

    def __init__(
        self,
        service_name: str = "pcmaster",
        *,
        sentinels: int = 3,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        binary: str | None = None,
        timeout: float = WAIT_TIMEOUT,
    ) -> None:
        self.service_name = service_name
        self.n_sentinels = sentinels
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.timeout = timeout
        self._binary = binary
        self._tmpdir: Path | None = None
        self._data: list[ManagedServer] = []
        self._sentinels: list[ManagedServer] = []

    def __repr__(self) -> str:
        data = ",".join(str(server.port) for server in self._data)
        return f"<SentinelSet {self.service_name} data={data or '-'}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._tmpdir is not None:
            return self
        binary = self._binary or find_redis_server_binary()
        tmp = self._tmpdir = Path(tempfile.mkdtemp(prefix="pctest-sentinel-"))
        _live.add(self)
        try:
            master = ManagedServer(
                extra_args=_FAST_EMPTY_SYNC, data_dir=tmp / "data-0", binary=binary
            )
            self._data.append(master)
            master.start()
            replica = ManagedServer(
                extra_args=("--replicaof", master.host, str(master.port), *_FAST_EMPTY_SYNC),
                data_dir=tmp / "data-1",
                binary=binary,
            )
            self._data.append(replica)
            replica.start()
            # In sync before any sentinel asks the master for INFO (then every 10 s only).
            _wait_until(
                lambda: self._replica_problem(replica, master), "replica sync", self.timeout,
                self._data,
            )  # fmt: skip
            for index in range(self.n_sentinels):
                self._sentinels.append(_start_fresh(partial(self._new_sentinel, binary, index)))
            self.wait_ok("sentinel set start")
        except BaseException:
            self.stop()
            raise
        return self

    def _new_sentinel(self, binary: str, index: int) -> ManagedServer:
        assert self._tmpdir is not None
        directory = self._tmpdir / f"sentinel-{index}"
        directory.mkdir(exist_ok=True)
        config = directory / "sentinel.conf"  # Sentinel rewrites it: a file of its own
        server = ManagedServer(
            extra_args=("--sentinel",), data_dir=directory, binary=binary, config_file=config
        )
        master = self._data[0]
        name = self.service_name
        config.write_text(
            f"port {server.port}\n"
            f"bind {server.host}\n"
            f"sentinel monitor {name} {master.host} {master.port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
        )
        return server

    def stop(self) -> None:
        """Stop the sentinels, then the data servers, and remove the temp directory."""
        errors: list[str] = []
        for server in [*self._sentinels, *self._data]:
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                errors.append(f"{server!r}: {exc}")
        self._sentinels.clear()
        self._data.clear()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
        _live.discard(self)
        if errors:
            raise RedisHarnessError("could not stop every server: " + "; ".join(errors))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the sentinels say --------------------------------------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(server.host, server.port) for server in self._sentinels]

    @property
    def sentinel_servers(self) -> list[ManagedServer]:
        return list(self._sentinels)

    @property
    def servers(self) -> list[ManagedServer]:
        """The data servers (master and replica), running or not."""
        return list(self._data)

    def sentinel_client(self, **kwargs: Any) -> Sentinel:
        """``redis.sentinel.Sentinel`` over our sentinels; ``kwargs`` are for the servers
        it connects to (``sentinel_kwargs`` for the sentinels themselves)."""
        return Sentinel(self.sentinels, **kwargs)

    def _master_port(self, sentinel: ManagedServer) -> int:
        reply = _call(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service_name)
        if not reply:
            raise redis.ResponseError(f"{sentinel!r} does not monitor {self.service_name}")
        return int(reply[1])

    def _data_server(self, port: int) -> ManagedServer:
        for server in self._data:
            if server.port == port:
                return server
        raise RedisHarnessError(f"the sentinels name port {port}, which is not ours")

    def master(self) -> ManagedServer:
        """The server the sentinels currently name as master."""
        last: Exception | None = None
        for sentinel in self._sentinels:
            if sentinel.running:
                try:
                    return self._data_server(self._master_port(sentinel))
                except redis.RedisError as exc:
                    last = exc
        raise RedisHarnessError(f"no sentinel of {self!r} answers: {last}")

    def replicas(self) -> list[ManagedServer]:
        """Every data server except the current master (running or not)."""
        master = self.master()
        return [server for server in self._data if server is not master]

    # -- health ------------------------------------------------------------------------------

    @staticmethod
    def _replica_problem(server: ManagedServer, master: ManagedServer) -> str | None:
        replication = _info(server, "replication")
        if (
            replication.get("role") != "slave"
            or replication.get("master_port") != master.port
            or replication.get("master_link_status") != "up"
            or replication.get("master_sync_in_progress")
        ):
            return (
                f"{server!r} is not an in-sync replica of {master!r} yet "
                f"(role={replication.get('role')}, master_port={replication.get('master_port')}, "
                f"link={replication.get('master_link_status')})"
            )
        return None

    def problem(self) -> str | None:
        """``None`` if all running sentinels agree on a running master that says
        ``role:master``, see every running replica healthy and each other; else why not."""
        name = self.service_name
        running = [sentinel for sentinel in self._sentinels if sentinel.running]
        if not running:
            return "no sentinel is running"
        named = {sentinel.port: self._master_port(sentinel) for sentinel in running}
        ports = set(named.values())
        if len(ports) != 1:
            return f"the sentinels (port: master port) disagree on the master: {named}"
        master = self._data_server(ports.pop())
        if not master.running:
            return f"the sentinels still name stopped {master!r}"
        if _info(master, "replication").get("role") != "master":
            return f"{master!r}, named by the sentinels, is not role:master yet"
        replicas = [s for s in self._data if s is not master and s.running]
        for server in replicas:
            problem = self._replica_problem(server, master)
            if problem:
                return problem
        for sentinel in running:
            state = _pairs(_call(sentinel, "SENTINEL", "MASTER", name))
            if state.get("flags") != "master":
                return f"{sentinel!r} flags the master {state.get('flags')}"
            if int(state.get("num-other-sentinels", 0)) != len(self._sentinels) - 1:
                return f"{sentinel!r} sees {state.get('num-other-sentinels')} other sentinels"
            if int(state.get("num-slaves", 0)) < len(replicas):
                return f"{sentinel!r} sees {state.get('num-slaves')} replicas"
            listed = {
                int(entry["port"]): entry["flags"]
                for entry in map(_pairs, _call(sentinel, "SENTINEL", "REPLICAS", name))
            }
            for server in replicas:
                if listed.get(server.port) != "slave":
                    return f"{sentinel!r} lists {server!r} as {listed.get(server.port)}"
        return None

    def wait_ok(self, what: str = "sentinel set ok", timeout: float | None = None) -> None:
        """Poll until :meth:`problem` is ``None`` (or raise with the servers' log tails)."""
        servers = [*self._data, *self._sentinels]
        _wait_until(self.problem, what, timeout or self.timeout, servers)

    # -- changes -----------------------------------------------------------------------------

    def kill_master(self) -> ManagedServer:
        """SIGKILL the current master; once the sentinels name another server, it says
        ``role:master`` and everything else is healthy, return it."""
        old = self.master()
        if not old.running:
            raise RedisHarnessError(f"the master {old!r} is not running")
        old.kill()

        def switched() -> str | None:
            current = self.master()
            if current is old:
                return f"the sentinels still name killed {old!r}"
            return self.problem()

        servers = [*self._data, *self._sentinels]
        _wait_until(switched, f"failover away from killed {old!r}", self.timeout, servers)
        return self.master()

    def restart(self, server: ManagedServer) -> None:
        """Start ``server`` again (stopping it first if running) and wait until it is back:
        a data server as a replica of the current master (the sentinels reconfigure it,
        which takes them ~10 s), a sentinel once it sees everything again."""
        if not any(server is ours for ours in [*self._data, *self._sentinels]):
            raise RedisHarnessError(f"{server!r} is not part of {self!r}")
        server.stop()
        server.forget_data()
        server.start(self.timeout)
        self.wait_ok(f"{server!r} rejoining")

    def repair(self) -> None:
        """Restart every server that is down, then wait until everything is healthy."""
        for server in [*self._data, *self._sentinels]:
            if not server.running:
                server.stop()
                server.forget_data()
                server.start(self.timeout)
        self.wait_ok("repairing the sentinel set")

    def flush(self) -> None:
        """FLUSHALL on the current master, then WAIT for its replicas."""
        client = _admin(self.master())
        try:
            client.flushall()
            attached = int(client.info("replication").get("connected_slaves", 0))
            if attached:
                client.execute_command("WAIT", attached, 5000)
        finally:
            client.close()


@atexit.register
def stop_all_sets() -> None:
    """Stop every cluster / sentinel set still running (and remove its temp directory)."""
    for deployment in list(_live):
        with contextlib.suppress(Exception):
            deployment.stop()
