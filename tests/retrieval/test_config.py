"""Every retrieval setting comes from an ``OuiJupyter`` traitlet of the same name."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from traitlets import TraitError
from traitlets.config import Config

from oui_jupyter.app import OuiJupyter
from oui_jupyter.services.retrieval.service import RetrievalConfig
from oui_jupyter.store.duckdb_store import DuckDBVectorStore
from oui_jupyter.store.vector_index import _METHODS, VectorIndex

#: the settings a config file could not reach before they became traitlets
SET = {
    "hybrid_fusion": "rrf",
    "hybrid_alpha": 0.25,
    "hybrid_rrf_k": 17,
    "rag_template": "Sources: {{CONTEXT}}\nQuestion: {{QUERY}}",
    "rag_budget_chars": 1234,
    "embedding_batch_size": 8,
    "index_include_hidden": True,
}


@pytest.fixture
def oui_extra_config() -> dict[str, Any]:
    return dict(SET)


def oui_app(serverapp: Any) -> OuiJupyter:
    (app,) = serverapp.extension_manager.extension_apps["oui_jupyter"]
    return app


def test_each_setting_reaches_the_retrieval_config(jp_serverapp: Any):
    config = oui_app(jp_serverapp)._retrieval_config()
    assert {name: getattr(config, name) for name in SET} == SET
    assert config.root_dir == jp_serverapp.root_dir


def test_every_config_field_is_a_traitlet():
    traits = OuiJupyter.class_traits(config=True)
    assert [f.name for f in fields(RetrievalConfig) if f.name not in traits] == ["root_dir"]


def test_defaults_are_the_configs():
    app = OuiJupyter()
    defaults = RetrievalConfig(root_dir="", data_dir="")
    for name in SET:
        assert getattr(app, name) == getattr(defaults, name), name


def test_a_store_class_must_be_a_vector_index():
    assert issubclass(DuckDBVectorStore, VectorIndex)
    lookalike = type("Lookalike", (), {name: lambda self: None for name in _METHODS})
    app = OuiJupyter()
    app.retrieval_store_class = lookalike  # structural: no need to inherit
    with pytest.raises(TraitError, match="VectorIndex"):
        app.retrieval_store_class = dict
    partial = type("Partial", (), {name: lambda self: None for name in _METHODS[1:]})
    with pytest.raises(TraitError, match="VectorIndex"):
        app.retrieval_store_class = partial
    dotted = {"retrieval_store_class": "oui_jupyter.store.vector_store.DuckDBVectorStore"}
    assert OuiJupyter(config=Config(OuiJupyter=dotted)).retrieval_store_class is DuckDBVectorStore
    with pytest.raises(TraitError, match="VectorIndex"):
        OuiJupyter(config=Config(OuiJupyter={"retrieval_store_class": "collections.OrderedDict"}))
