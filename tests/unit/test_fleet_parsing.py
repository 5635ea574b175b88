"""fleetctl's tab-separated listings parse into machines and units."""

from wpcluster.clients.fleet import Machine, Unit, parse_machines, parse_targets, parse_units


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
