"""Schema-driven fuzzing of the HTTP API from its own OpenAPI document (Schemathesis), against a real
uvicorn server on 127.0.0.1: no 5xx, and every answer conforms to the document (status, content type,
body schema). Bounded to a few examples per route so that it runs in seconds."""

from __future__ import annotations

import pytest
from conftest import needs_ravdess

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")
pytest.importorskip("fastapi", reason="the server needs fastapi (pip install fastapi uvicorn python-multipart)")

from hypothesis import HealthCheck, settings

from emovox.apps.server.app import create_app
from emovox.apps.server.common import ServerConfig
from testkit.server_thread import ServerThread

pytestmark = needs_ravdess
ROUTES = ("/healthz", "/v1/model", "/v1/predict")


@pytest.fixture(scope="module")
def server(tiny_bundle):
    import emovox

    with ServerThread(create_app(emovox.load_model(tiny_bundle), ServerConfig(max_duration=30.0))) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(server):
    """The running server's own ``/openapi.json``, limited to the three HTTP routes."""
    loaded = schemathesis.openapi.from_url(server.url + "/openapi.json", timeout=10)
    return loaded.include(path=list(ROUTES))


def test_document_lists_the_routes_with_their_answers(server):
    import httpx

    document = httpx.get(server.url + "/openapi.json").json()
    assert set(ROUTES) <= set(document["paths"])
    post = document["paths"]["/v1/predict"]["post"]
    assert {"audio/wav", "audio/flac", "audio/mpeg", "multipart/form-data"} <= set(post["requestBody"]["content"])
    for status in ("200", "400", "413", "415", "422", "503"):
        assert "application/json" in post["responses"][status]["content"], status


@pytest.mark.parametrize("method, path, mode, examples", [
    ("GET", "/healthz", "positive", 5), ("GET", "/v1/model", "positive", 5),
    ("POST", "/v1/predict", "positive", 25), ("POST", "/v1/predict", "negative", 25)])
def test_api_conforms_to_its_schema(api_schema, method, path, mode, examples):
    """Any request the document allows gets an answer the document describes, and never a 5xx.

    Cases come from Schemathesis's Hypothesis strategy for the operation (its pytest plugin's lazy
    fixtures do not work with pytest 9). ``positive_data_acceptance`` is left out: a body the schema
    allows (``format: binary``, any bytes) is rarely audio, and the API rightly answers 422 for it.
    Negative cases (requests the document does not allow: other media types, no body, ...) must get a 4xx.
    """
    from hypothesis import given
    from schemathesis.checks import positive_data_acceptance

    operation = api_schema[path][method]
    statuses = []

    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case) -> None:
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=30)
        assert response.status_code < 500, response.text
        statuses.append(response.status_code)

    check()
    assert statuses and all(status < 500 for status in statuses)
