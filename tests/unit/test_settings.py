"""Settings: the documented default, the TOML file, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from realmkit.errors import ConfigError
from realmkit.settings import (
    DEFAULT_SETTINGS,
    DEFAULT_TOML,
    NodeSpec,
    Role,
    load_settings,
    port_clashes,
)


def test_no_file_means_the_documented_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without realmkit.toml the settings equal the documented default file."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings == DEFAULT_SETTINGS
    assert [n.role for n in settings.nodes].count(Role.WORLD) == 2
    assert settings.engines.nats_url == ""


def test_file_then_environment(tmp_path: Path) -> None:
    """Values come from the file; REALMKIT_* variables override them."""
    path = tmp_path / "realmkit.toml"
    path.write_text(
        'data_dir = "/srv/realm"\n[engines]\nnats_url = "nats://a:4222"\n'
        '[[nodes]]\nname = "world-7"\nrole = "world"\nport = 9000\n'
    )
    settings = load_settings(path, env={"REALMKIT_DATABASE_URL": "postgresql://db/x"})
    assert settings.data_dir == "/srv/realm"
    assert settings.engines.nats_url == "nats://a:4222"
    assert settings.engines.database_url == "postgresql://db/x"
    assert settings.node("world-7").port == 9000
    overridden = load_settings(path, env={"REALMKIT_NATS_URL": "", "REALMKIT_DATA_DIR": "/d"})
    assert overridden.engines.nats_url == ""
    assert overridden.data_dir == "/d"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[[nodes]]\nname = "w"\nrole = "wizard"\n', "$.nodes[0].role"),
        ('[[nodes]]\nname = "w"\nrole = "world"\nport = 70000\n', "$.nodes[0].port"),
        ('[[nodes]]\nname = "Bad Name"\nrole = "world"\n', "$.nodes[0].name"),
        ("[engines]\nnats = 1\n", "$.engines"),
    ],
)
def test_bad_values_name_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    """An invalid node file fails with ConfigError naming the file and the field."""
    path = tmp_path / "realmkit.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert caught.value.source == str(path)
    assert field in caught.value.detail


def test_repeated_node_names_are_refused(tmp_path: Path) -> None:
    """Two nodes with one name would fight over one identity: refused."""
    path = tmp_path / "realmkit.toml"
    path.write_text(
        '[[nodes]]\nname = "w"\nrole = "world"\n[[nodes]]\nname = "w"\nrole = "login"\n'
    )
    with pytest.raises(ConfigError, match="unique"):
        load_settings(path, env={})


def test_named_file_must_exist(tmp_path: Path) -> None:
    """A node file named explicitly (argument or REALMKIT_CONFIG) must exist."""
    with pytest.raises(ConfigError, match="not found"):
        load_settings(env={"REALMKIT_CONFIG": str(tmp_path / "nope.toml")})


def test_default_file_text_is_valid_and_commented() -> None:
    """The text `realmkit init` writes documents every engine setting."""
    for key in ("nats_url", "database_url", "durable", "REALMKIT_NATS_URL"):
        assert key in DEFAULT_TOML


def _gateways(*hosts: str) -> tuple[NodeSpec, ...]:
    return tuple(
        NodeSpec(name=f"gateway-{i}", role=Role.GATEWAY, host=host, port=8081)
        for i, host in enumerate(hosts)
    )


def test_two_nodes_on_one_address_are_refused(tmp_path: Path) -> None:
    """Two nodes on one host and port are a node-file error naming both."""
    path = tmp_path / "realmkit.toml"
    path.write_text(
        '[[nodes]]\nname = "login"\nrole = "login"\nport = 8080\n'
        '[[nodes]]\nname = "gateway-1"\nrole = "gateway"\nport = 8081\nmetrics_port = 8080\n'
    )
    with pytest.raises(ConfigError, match=r"login and gateway-1 on 127\.0\.0\.1:8080"):
        load_settings(path, env={})


def test_wildcard_hosts_clash_only_on_one_machine() -> None:
    """Pods on 0.0.0.0:8081 each (deploy/kubernetes) are fine in the file; run
    together by `realmkit up` on one machine they clash, as 0.0.0.0 and
    127.0.0.1 do; two loopback addresses do not."""
    anywhere = "0.0.0.0"  # noqa: S104 - a node file's value, nothing binds it here
    assert port_clashes(_gateways(anywhere, anywhere)) == []
    assert port_clashes(_gateways(anywhere, anywhere), one_machine=True) != []
    assert port_clashes(_gateways(anywhere, "127.0.0.1"), one_machine=True) != []
    assert port_clashes(_gateways("127.0.0.1", "127.0.0.2"), one_machine=True) == []
    assert port_clashes(_gateways("10.0.0.5", "10.0.0.5")) == [
        "gateway-0 and gateway-1 on 10.0.0.5:8081"
    ]
