"""Knowledge and uploads across replicas of the oui team service (issue #16: "the service keeps
no state beside PostgreSQL"): a collection and an upload made through one replica are listed,
downloaded and searched (query and a chat turn's sources) through the other; a file removed
through one is gone from the other's search; a replica restarted on an empty data dir has it
all, retrieval settings included.

Real parts: two ``jupyter server`` processes in service mode on one fresh PostgreSQL database,
a scripted OpenAI upstream, and an OpenAI-compatible embeddings endpoint
(``support.embeddings_endpoint``: no model to load) so that vector search is exercised too.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.embeddings_endpoint import embeddings_endpoint
from support.team_replicas import Replica, start_replicas
from support.team_replicas import team_database as fresh_team_database

MAX_UPLOAD = 64 * 1024
LAB = b"# Lab\n\nThe centrifuge spins at 12000 rpm in the cold room.\n"


@pytest.fixture(scope="module")
def embeddings_url() -> Iterator[str]:
    with embeddings_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def scripted() -> Iterator[Any]:
    from support.scripted_openai import ScriptedOpenAI

    server = ScriptedOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def team_database() -> Iterator[str]:
    with fresh_team_database() as url:
        yield url


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    team_database: str,
    scripted: Any,
    embeddings_url: str,
) -> Iterator[list[Replica]]:
    started = start_replicas(
        tmp_path_factory.mktemp("pgknowledge"),
        team_database,
        scripted.base_url,
        2,
        "--OuiJupyter.embedding_engine=openai",
        f"--OuiJupyter.embedding_base_url={embeddings_url}",
        "--OuiJupyter.embedding_model=bag-of-words",
        "--OuiJupyter.index_start_delay=0",
        f"--OuiJupyter.max_upload_size={MAX_UPLOAD}",
    )
    yield started
    for replica in started:
        replica.stop()


def blob_ids(database_url: str) -> set[str]:
    """The uploads whose bytes the team database holds."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM file_blob").fetchall()}


def raw(
    replica: Replica, method: str, path: str, data: bytes | None = None, **headers: str
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{replica.api}/{path}",
        data=data,
        method=method,
        headers={"Authorization": "token alice-token", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_file(replica: Replica, filename: str, data: bytes) -> tuple[int, bytes]:
    """``POST v1/files/`` as alice: the upload form Open WebUI sends."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    return raw(replica, "POST", "v1/files/", body, **{"Content-Type": content_type})


def upload(replica: Replica, filename: str, data: bytes) -> str:
    """An upload through ``replica``, once it is processed."""
    status, answer = post_file(replica, filename, data)
    assert status == 200, answer
    file_id = str(json.loads(answer)["id"])
    deadline = time.monotonic() + 30
    while True:
        status, st = replica.call("GET", f"v1/files/{file_id}/process/status")
        assert status == 200, st
        if st["status"] != "pending":
            break
        assert time.monotonic() < deadline, "the upload was not processed"
        time.sleep(0.1)
    assert st["status"] == "completed", st
    return file_id


def collection(replica: Replica, name: str, *file_ids: str) -> str:
    status, body = replica.call("POST", "v1/knowledge/create", {"name": name, "description": ""})
    assert status == 200, body
    knowledge_id = str(body["id"])
    for file_id in file_ids:
        status, body = replica.call(
            "POST", f"v1/knowledge/{knowledge_id}/file/add", {"file_id": file_id}
        )
        assert status == 200, body
    return knowledge_id


def query(replica: Replica, knowledge_id: str, text: str, mode: str = "keyword") -> dict[str, Any]:
    status, body = replica.call(
        "POST",
        "v1/retrieval/query/collection",
        {"collection_names": [knowledge_id], "query": text, "k": 5, "mode": mode},
    )
    assert status == 200, body
    return dict(body)


def wait_for(check: Any, timeout: float = 30.0) -> bool:
    """True once ``check()`` is (polled), False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def names(result: dict[str, Any]) -> list[str]:
    return sorted(m["name"] for m in result["metadatas"][0])


@pytest.fixture(scope="module")
def lab(replicas: list[Replica]) -> tuple[str, str]:
    """Alice's "Lab" collection with one upload, both made through replica A."""
    a = replicas[0]
    file_id = upload(a, "lab notes.md", LAB)
    return collection(a, "Lab", file_id), file_id


def test_a_collection_made_on_a_is_listed_downloaded_and_searched_on_b(
    replicas: list[Replica], lab: tuple[str, str], scripted: Any
) -> None:
    _, b = replicas
    knowledge_id, file_id = lab
    status, listed = b.call("GET", "v1/knowledge/")
    assert status == 200 and knowledge_id in [k["id"] for k in listed]
    status, body = b.call("GET", f"v1/knowledge/{knowledge_id}")
    assert [f["id"] for f in body["files"]] == [file_id]
    assert raw(b, "GET", f"v1/files/{file_id}/content") == (200, LAB)
    assert names(query(b, knowledge_id, "centrifuge rpm")) == ["lab notes.md"]
    # the vectors A's replica made are B's too (B embeds only the query)
    assert wait_for(
        lambda: query(b, knowledge_id, "centrifuge cold room", "vector")["retrievers"] == ["vector"]
    )
    assert names(query(b, knowledge_id, "centrifuge cold room", "vector")) == ["lab notes.md"]

    # a chat turn through B cites the upload and sends its text upstream
    status, answer = b.call(
        "POST",
        "chat/completions",
        {
            "model": "fast",
            "stream": False,
            "messages": [{"role": "user", "content": "How fast does the centrifuge spin?"}],
            "files": [{"type": "collection", "id": knowledge_id}],
        },
    )
    assert status == 200, answer
    assert [s["source"]["name"] for s in answer["sources"]] == ["lab notes.md"], answer["sources"]
    sent = json.dumps(scripted.requests[-1]["messages"])
    assert "12000 rpm" in sent

    # nothing of it was kept in either replica's data dir
    for replica in replicas:
        data = replica.root / "data"
        assert not (data / "uploads").exists() and not (data / "retrieval").exists()


def test_a_file_removed_on_b_leaves_the_search_of_a(
    replicas: list[Replica], team_database: str
) -> None:
    a, b = replicas
    keep = upload(a, "keep.txt", b"The tubas stay in the band room.\n")
    gone = upload(a, "gone.txt", b"The tubas go on tour by bus.\n")
    band = collection(a, "Band", keep, gone)
    assert names(query(a, band, "tubas")) == ["gone.txt", "keep.txt"]
    assert names(query(b, band, "tubas")) == ["gone.txt", "keep.txt"]
    assert {keep, gone} <= blob_ids(team_database)
    status, _ = b.call("DELETE", f"v1/files/{gone}")
    assert status == 200
    assert keep in blob_ids(team_database) and gone not in blob_ids(team_database)
    assert names(query(a, band, "tubas tour")) == ["keep.txt"]
    assert raw(a, "GET", f"v1/files/{gone}/content")[0] == 404
    # removed from the collection only (the upload stays): gone from its search too
    status, _ = b.call("POST", f"v1/knowledge/{band}/file/remove", {"file_id": keep})
    assert status == 200
    assert query(a, band, "tubas")["documents"] == [[]]


def test_a_replica_restarted_on_an_empty_data_dir_has_everything(
    replicas: list[Replica], lab: tuple[str, str]
) -> None:
    a, b = replicas
    knowledge_id, file_id = lab
    status, body = a.call("POST", "v1/retrieval/config/update", {"rag_budget_chars": 4321})
    assert status == 200 and body["rag_budget_chars"] == 4321, body
    b.stop()
    shutil.rmtree(b.root / "data")
    b.start()
    assert not (Path(b.root) / "data" / "uploads").exists()
    status, listed = b.call("GET", "v1/knowledge/")
    assert knowledge_id in [k["id"] for k in listed]
    assert raw(b, "GET", f"v1/files/{file_id}/content") == (200, LAB)
    assert names(query(b, knowledge_id, "centrifuge")) == ["lab notes.md"]
    assert names(query(b, knowledge_id, "centrifuge cold room", "vector")) == ["lab notes.md"]
    # the settings an admin saved through A are read from the database by the new process
    assert b.call("GET", "v1/retrieval/config")[1]["rag_budget_chars"] == 4321


def test_uploads_past_the_limit_are_refused_and_not_kept(
    replicas: list[Replica], team_database: str
) -> None:
    before = blob_ids(team_database)
    status, answer = post_file(replicas[1], "big.txt", b"x" * (MAX_UPLOAD + 1))
    assert status == 413, answer
    assert blob_ids(team_database) == before
