"""fleetctl's tab-separated listings parse into machines and units; fleet's machine keys against an etcd outage."""

from types import SimpleNamespace

from wpcluster.clients.fleet import (
    Machine,
    Unit,
    agents_hurt_by_etcd_outage,
    machine_lease_ends,
    parse_machines,
    parse_targets,
    parse_units,
    quietest_etcd_outage_start,
    registry_schedule,
    registry_targets,
)


def test_parse_machines():
    text = ("1b2c3d4e5f60718293a4b5c6d7e8f901\t172.30.8.101\t-\n"
            "aa2c3d4e5f60718293a4b5c6d7e8f902\t172.30.8.102\trole=web\n")
    assert parse_machines(text) == [
        Machine("1b2c3d4e5f60718293a4b5c6d7e8f901", "172.30.8.101", "-"),
        Machine("aa2c3d4e5f60718293a4b5c6d7e8f902", "172.30.8.102", "role=web"),
    ]


def test_parse_machines_ignores_blank_lines():
    assert parse_machines("\n\n") == []


def test_parse_units_placed_and_unplaced():
    text = ("hello.service\t1b2c3d4e5f60718293a4b5c6d7e8f901/172.30.8.101\tactive\trunning\n"
            "hello@2.service\t-\tinactive\tdead\n")
    assert parse_units(text) == [
        Unit("hello.service", "1b2c3d4e5f60718293a4b5c6d7e8f901", "172.30.8.101", "active", "running"),
        Unit("hello@2.service", "", "", "inactive", "dead"),
    ]


def test_parse_units_aligned_with_several_tabs():
    # fleetctl pads its columns with tabs: a short name, or an unplaced unit's "-", gets more than one.
    text = ("hello.service\t\t52cf78c74e3c104db6d7e351b30f252c/172.30.8.103\tactive\trunning\n"
            "wordpress-admin.service\t62f3166ac8c2b7cb41d90eb8cad33808/172.30.8.101\tactive\trunning\n"
            "discovery@2.service\t-\t\t\t\t\t\tinactive\tdead\n")
    assert [u.name for u in parse_units(text)] == ["hello.service", "wordpress-admin.service", "discovery@2.service"]
    assert parse_units(text)[2] == Unit("discovery@2.service", "", "", "inactive", "dead")


def test_targets_name_the_scheduled_machines_address_and_leave_templates_out():
    listing = ("discovery@.service\t-\n"
               "discovery@1.service\tba485e4ae2a77f9e073748181f42f8c1/172.30.8.103\n"
               "wordpress-admin.service\tc1cb7bdb256a525a9716f1a56567cfce/172.30.8.102\n"
               "wordpress@2.service\t\t-\n")
    assert parse_targets(listing) == {"discovery@1.service": "172.30.8.103",
                                      "wordpress-admin.service": "172.30.8.102"}


# ---- an etcd outage against fleet's beats (ttl 30 s: a beat every 15 s, a restart after 10 s failing) ----
SPREAD = {"a": 90 + 30.0, "b": 95 + 30.0, "c": 100 + 30.0}  # last beats at 90, 95 and 100


def test_an_outage_disturbs_an_agent_whose_beat_fails_for_a_third_of_its_ttl():
    # From 100.5 for 17.5 s: a beats at 105 and fails until 115 (restart); b at 110 and c at 115 get etcd back in time.
    assert agents_hurt_by_etcd_outage(100.5, 17.5, SPREAD, 30) == ["a"]
    assert agents_hurt_by_etcd_outage(110.5, 17.5, SPREAD, 30) == ["a", "b", "c"]


def test_an_outage_past_a_machine_key_disturbs_it_whatever_its_beat():
    assert agents_hurt_by_etcd_outage(100.5, 9.0, {"a": 109.0}, 30) == ["a"]
    assert agents_hurt_by_etcd_outage(100.5, 8.0, {"a": 109.0}, 30) == []


def test_the_quietest_start_is_just_after_a_beat_and_the_earliest_of_equals():
    assert quietest_etcd_outage_start(100.0, 17.5, SPREAD, 30) == 100.5
    close = {"a": 98 + 30.0, "b": 99 + 30.0, "c": 100 + 30.0}
    assert quietest_etcd_outage_start(100.2, 17.5, close, 30) == 100.2


def test_machine_lease_ends_reads_each_machine_key_and_its_expiration():
    leaf = SimpleNamespace(key="/_coreos.com/fleet/machines/0b50/object", expiration="1970-01-01T00:01:40.25Z")
    other = SimpleNamespace(key="/_coreos.com/fleet/machines/0b50/other", expiration=None)
    client = SimpleNamespace(read=lambda key, recursive: SimpleNamespace(leaves=[leaf, other]))
    assert machine_lease_ends(client) == {"0b50": 100.25}


# fleet's registry as two recursive reads return it: one live machine, a unit on it, a unit on a
# machine whose presence key is gone, and one the engine has not scheduled.
REGISTRY = {
    "/_coreos.com/fleet/machines": [SimpleNamespace(key="/_coreos.com/fleet/machines/m1/object",
                                                    value='{"ID": "m1", "PublicIP": "172.30.8.101"}')],
    "/_coreos.com/fleet/job": [
        SimpleNamespace(key="/_coreos.com/fleet/job/wordpress@1.service/target", value="m1"),
        SimpleNamespace(key="/_coreos.com/fleet/job/wordpress@1.service/object", value="{}"),
        SimpleNamespace(key="/_coreos.com/fleet/job/wordpress@2.service/target", value="gone"),
        SimpleNamespace(key="/_coreos.com/fleet/job/wordpress@3.service/object", value="{}"),
    ],
}


def registry_client(asked: list[bool]) -> SimpleNamespace:
    """A client over REGISTRY that records whether each read went through the leader."""
    def read(key, recursive, quorum=False):
        asked.append(quorum)
        return SimpleNamespace(leaves=REGISTRY[key])

    return SimpleNamespace(read=read)


def test_registry_targets_lists_scheduled_units_by_their_machines_address():
    asked = []
    assert registry_targets(registry_client(asked)) == {"wordpress@1.service": "172.30.8.101"}
    assert not any(asked), "the gray faults' hold read through the leader, which may be the capped node"


def test_registry_schedule_names_a_unit_on_a_machine_gone_by_its_id_and_reads_through_the_leader():
    asked = []
    targets, machines = registry_schedule(registry_client(asked))
    assert targets == {"wordpress@1.service": "172.30.8.101", "wordpress@2.service": "gone"}
    assert machines == {"172.30.8.101"}
    assert asked and all(asked), "a read of the schedule could come from a member cut off from the leader"
