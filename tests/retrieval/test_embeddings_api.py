"""``oui/api/embeddings`` and ``oui/api/v1/embeddings``: OpenAI's shape, the real MiniLM model."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


async def test_texts_are_embedded_as_openai_answers(api: Any) -> None:
    texts = [
        "Emperor penguins dive deeper than any other bird.",
        "Which seabird can swim to the greatest depth?",
        "The tax code was amended in 1990.",
    ]
    answer = await api("POST", "embeddings", {"input": texts}, timeout=180)
    assert answer.code == 200, answer.body
    body = answer.json()
    assert body["object"] == "list" and body["model"] == MODEL
    assert [item["index"] for item in body["data"]] == [0, 1, 2]
    assert {item["object"] for item in body["data"]} == {"embedding"}
    vectors = [item["embedding"] for item in body["data"]]
    assert {len(v) for v in vectors} == {384}
    assert all(abs(dot(v, v) - 1.0) < 1e-3 for v in vectors)  # L2-normalised
    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2]) + 0.2
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 10

    one = await api("POST", "v1/embeddings", {"input": texts[0], "model": MODEL}, timeout=60)
    assert one.code == 200, one.body
    assert len(one.json()["data"]) == 1
    assert dot(one.json()["data"][0]["embedding"], vectors[0]) > 0.999

    packed = await api(
        "POST", "v1/embeddings", {"input": [texts[2]], "encoding_format": "base64"}, timeout=60
    )
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    floats = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    assert len(floats) == 384 and dot(floats, vectors[2]) > 0.999


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"input": ["x"] * 257}, 413, "embeddings_too_many_inputs"),
        ({"input": "x" * 32_001}, 413, "embeddings_input_too_long"),
        ({"input": ["y" * 30_000] * 40}, 413, "embeddings_too_large"),
        ({"input": []}, 422, None),
        ({"input": [[101, 2023]]}, 422, None),  # token arrays are not accepted
        ({}, 422, None),
        ({"input": "x", "encoding_format": "int8"}, 422, None),
        ({"input": "x", "model": "text-embedding-3-large"}, 404, "model_not_found"),
    ],
)
async def test_bad_or_too_large_requests_are_refused_before_any_work(
    api: Any, body: dict[str, Any], status: int, reason: str | None
) -> None:
    answer = await api("POST", "v1/embeddings", body)
    assert answer.code == status, answer.body
    assert "message" in answer.json()
    if reason is not None:
        assert answer.json()["reason"] == reason
