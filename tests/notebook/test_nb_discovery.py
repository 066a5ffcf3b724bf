"""Finding the server from inside a kernel: env override, JupyterHub, running-server files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from oui_jupyter.notebook import discovery
from oui_jupyter.notebook.discovery import (
    DiscoveryError,
    ServerInfo,
    find_server,
    notebook_path,
    pick_server,
)


def write_server(
    runtime: Path, pid: int, root: str, port: int, token: str = "tok", base_url: str = "/"
) -> dict:
    info = {
        "base_url": base_url,
        "hostname": "localhost",
        "password": False,
        "pid": pid,
        "port": port,
        "root_dir": root,
        "secure": False,
        "sock": "",
        "token": token,
        "url": f"http://localhost:{port}{base_url}",
        "version": "2.21.1",
    }
    (runtime / f"jpserver-{pid}.json").write_text(json.dumps(info))
    return info


def test_env_override_wins_and_token_stays_out_of_repr(tmp_path: Path) -> None:
    write_server(tmp_path, os.getpid(), str(tmp_path), 8888)
    server = find_server(
        {"OUI_SERVER_URL": "http://example.org:9999/base", "OUI_TOKEN": "s3cret"}, str(tmp_path)
    )
    assert server.url == "http://example.org:9999/base/"
    assert server.token == "s3cret"
    assert server.source == "OUI_SERVER_URL"
    assert "s3cret" not in repr(server) and "s3cret" not in str(server)
    assert server.auth_headers() == {"Authorization": "token s3cret"}
    assert server.api_url("v1/chats/") == "http://example.org:9999/base/oui/api/v1/chats/"
    assert server.lab_link("dir/a b.py") == "/base/lab/tree/dir/a%20b.py"


def test_env_override_rejects_a_url_without_scheme(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="must start with http"):
        find_server({"OUI_SERVER_URL": "localhost:8888"}, str(tmp_path))


def test_the_server_that_is_our_ancestor_is_picked(tmp_path: Path) -> None:
    # our own process stands in for "the server that launched the kernel": its pid is alive
    parent = os.getppid()
    write_server(tmp_path, parent, "/somewhere/else", 8001, token="parent-token")
    write_server(tmp_path, os.getpid(), str(tmp_path), 8002, token="other-token")
    server = find_server({}, str(tmp_path))
    assert server.url == "http://localhost:8001/"
    assert server.token == "parent-token"
    assert "started this kernel" in server.source


def test_root_dir_holding_cwd_is_picked_when_no_ancestor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers = [
        {"pid": 10, "root_dir": "/nope", "url": "http://localhost:1/"},
        {"pid": 11, "root_dir": str(tmp_path), "url": "http://localhost:2/"},
        {"pid": 12, "root_dir": str(tmp_path / "sub"), "url": "http://localhost:3/"},
    ]
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    picked = pick_server(servers, [999999], str(tmp_path / "sub" / "deeper"))
    assert picked is not None and picked[0]["pid"] == 12
    assert pick_server(servers, [11], "/")[0]["pid"] == 11  # type: ignore[index]
    assert pick_server(servers[:2], [], "/elsewhere") is None
    assert pick_server(servers[:1], [], "/elsewhere")[0]["pid"] == 10  # type: ignore[index]


def test_dead_servers_are_ignored_and_the_message_says_what_to_set(tmp_path: Path) -> None:
    write_server(tmp_path, 2**22 + 12345, str(tmp_path), 8003)  # no such pid
    (tmp_path / "jpserver-broken.json").write_text("{not json")
    with pytest.raises(DiscoveryError) as caught:
        find_server({}, str(tmp_path))
    assert "OUI_SERVER_URL" in str(caught.value) and "OUI_TOKEN" in str(caught.value)
    assert (tmp_path / f"jpserver-{2**22 + 12345}.json").exists()  # read only: nothing deleted


def test_jupyterhub_uses_the_service_url_and_api_token(tmp_path: Path) -> None:
    env = {
        "JUPYTERHUB_API_TOKEN": "hub-token",
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:8888/user/alice/",
        "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    }
    server = find_server(env, str(tmp_path))
    assert server.url == "http://127.0.0.1:8888/user/alice/"
    assert server.token == "hub-token"
    assert server.lab_link("a.ipynb") == "/user/alice/lab/tree/a.ipynb"


def test_jupyterhub_without_service_url_uses_the_server_file_and_prefix(tmp_path: Path) -> None:
    write_server(tmp_path, os.getppid(), str(tmp_path), 8004, token="", base_url="/user/bob/")
    server = find_server(
        {"JUPYTERHUB_API_TOKEN": "hub-token", "JUPYTERHUB_SERVICE_PREFIX": "/user/bob/"},
        str(tmp_path),
    )
    assert server.url == "http://localhost:8004/user/bob/"
    assert server.token == "hub-token"


def test_jupyterhub_with_nothing_to_go_on_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError, match="JUPYTERHUB_SERVICE_URL"):
        find_server({"JUPYTERHUB_API_TOKEN": "hub-token"}, str(tmp_path))


def test_notebook_path_is_made_relative_to_the_root(tmp_path: Path) -> None:
    server = ServerInfo(url="http://localhost:1/", root_dir=str(tmp_path))
    assert (
        notebook_path(server, {"JPY_SESSION_NAME": str(tmp_path / "dir" / "a.ipynb")})
        == "dir/a.ipynb"
    )
    assert notebook_path(server, {"JPY_SESSION_NAME": "dir/b.ipynb"}) == "dir/b.ipynb"
    assert notebook_path(server, {}) is None


def test_ancestors_include_our_parent() -> None:
    assert os.getppid() in discovery.ancestor_pids()
