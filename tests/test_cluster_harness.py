"""The Redis Cluster and Sentinel harness (tests/cluster_harness.py) really does what it says.

The tests share one cluster and one sentinel set per session (``cluster`` / ``sentinel``
fixtures), so the ones that kill a node rely on the fixture repairing it for the next.
"""

from __future__ import annotations

import pytest
from redis.cluster import RedisCluster

from tests.cluster_harness import CLUSTER_SLOTS, RedisClusterSet, SentinelSet
from tests.redis_harness import RedisServer

pytestmark = pytest.mark.slow

KEYS = [f"pctest:spread:{i}" for i in range(60)]


def _cluster_client(cluster: RedisClusterSet) -> RedisCluster:
    return cluster.client(socket_connect_timeout=0.5, socket_timeout=1.0)


def _replication(server: RedisServer) -> dict[str, object]:
    client = server.client()
    try:
        return dict(client.info("replication"))
    finally:
        client.close()


def test_cluster_is_ok_and_keys_spread_over_three_masters(cluster: RedisClusterSet) -> None:
    masters, replicas = cluster.masters(), cluster.replicas()
    assert len(masters) == 3 and len(replicas) == 3
    assert set(masters).isdisjoint(replicas)
    assert all(server.running for server in cluster.servers)
    assert cluster.urls == [f"redis://127.0.0.1:{m.port}" for m in masters]
    assert cluster.startup_nodes == [("127.0.0.1", s.port) for s in cluster.servers]
    for master in masters:
        assert len(cluster.replicas_of(master)) == 1
        node = master.client(decode_responses=True)
        try:
            info = node.execute_command("CLUSTER", "INFO")
            assert "cluster_state:ok" in info
            assert f"cluster_slots_ok:{CLUSTER_SLOTS}" in info
            assert node.dbsize() == 0  # flushed by the fixture
        finally:
            node.close()

    client = _cluster_client(cluster)
    try:
        for key in KEYS:
            client.set(key, key)
        owners = {key: cluster.node_for_key(key) for key in KEYS}
    finally:
        client.close()
    assert set(owners.values()) == set(masters)
    for key, owner in owners.items():  # each key really lives on the primary named for it
        node_client = owner.client()
        try:
            assert node_client.get(key) == key.encode()
        finally:
            node_client.close()


def test_kill_master_promotes_its_replica(cluster: RedisClusterSet) -> None:
    key = "pctest:failover"
    client = _cluster_client(cluster)
    try:
        client.set(key, "before")
        owner = cluster.node_for_key(key)
        (replica,) = cluster.replicas_of(owner)
        direct = owner.client()
        try:
            assert direct.wait(1, 5000) == 1  # the replica has the write
        finally:
            direct.close()

        promoted = cluster.kill_master(owner)

        assert promoted is replica
        assert not owner.running
        assert cluster.node_for_key(key) is promoted
        assert owner not in cluster.masters() and promoted in cluster.masters()
        # The same client follows the new topology: the value survived, writes work.
        assert client.get(key) == b"before"
        client.set(key, "after")
        assert client.get(key) == b"after"
    finally:
        client.close()


def test_fixture_repaired_the_killed_node_and_restart_node_rejoins(
    cluster: RedisClusterSet,
) -> None:
    # The previous test left a killed node; the fixture restarted it (now as a replica).
    assert all(server.running for server in cluster.servers)
    assert len(cluster.masters()) == 3 and len(cluster.replicas()) == 3

    replica = cluster.replicas()[0]
    master = cluster.masters()[0]
    pid = replica.pid
    cluster.restart_node(replica)
    assert replica.running and replica.pid != pid
    assert replica in cluster.replicas()
    assert _replication(replica)["master_link_status"] == "up"

    cluster.restart_node(master)  # it may come back as a replica: either is fine
    assert master.running
    assert len(cluster.masters()) == 3 and len(cluster.replicas()) == 3
    client = _cluster_client(cluster)
    try:
        for key in KEYS:
            client.set(key, "x")
        assert {cluster.node_for_key(key) for key in KEYS} == set(cluster.masters())
    finally:
        client.close()


def test_graceful_failover_swaps_master_and_replica(cluster: RedisClusterSet) -> None:
    master = cluster.masters()[0]
    (replica,) = cluster.replicas_of(master)

    promoted = cluster.failover(master)

    assert promoted is replica
    assert promoted in cluster.masters()
    assert cluster.replicas_of(promoted) == [master]  # the old master now follows it
    assert master.running
    assert _replication(master)["role"] == "slave"


def test_sentinel_set_is_ready(sentinel: SentinelSet) -> None:
    master = sentinel.master()
    (replica,) = sentinel.replicas()
    assert _replication(master)["role"] == "master"
    assert _replication(replica)["master_port"] == master.port
    assert sentinel.service_name == "pcmaster"
    assert len(sentinel.sentinels) == 3

    finder = sentinel.sentinel_client(socket_timeout=1.0)
    assert finder.discover_master("pcmaster") == ("127.0.0.1", master.port)
    assert finder.discover_slaves("pcmaster") == [("127.0.0.1", replica.port)]
    client = finder.master_for("pcmaster", socket_timeout=1.0)
    try:
        client.set("pctest:sentinel", "1")
        assert client.get("pctest:sentinel") == b"1"
    finally:
        client.close()


def test_sentinel_kill_master_elects_a_new_one_and_restart_rejoins(
    sentinel: SentinelSet,
) -> None:
    finder = sentinel.sentinel_client(socket_timeout=1.0)
    client = finder.master_for("pcmaster", socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        client.set("pctest:sentinel", "before")
        assert client.wait(1, 5000) == 1
        old = sentinel.master()

        new = sentinel.kill_master()

        assert new is not old and not old.running
        assert _replication(new)["role"] == "master"
        assert finder.discover_master("pcmaster") == ("127.0.0.1", new.port)
        # The sentinel-managed client finds the new master by itself (its retry reconnects
        # through the sentinels); the write replicated before the kill survived.
        assert client.get("pctest:sentinel") == b"before"
        client.set("pctest:sentinel", "after")

        sentinel.restart(old)

        assert old.running
        replication = _replication(old)
        assert replication["role"] == "slave" and replication["master_port"] == new.port
        assert sentinel.master() is new
        assert sentinel.replicas() == [old]
        assert client.get("pctest:sentinel") == b"after"
    finally:
        client.close()
