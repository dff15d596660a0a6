"""TLS: a server with a certificate talks to clients that trust it, and to nobody in clear text."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest

from internal_inpaint_client.client import InpaintClient, InpaintServiceError
from server.service import security
from server.service.jobs import ServerSettings
from server.service.serve import start_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost/127.0.0.1, made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path, certificate):
    cert, key = certificate
    credentials = security.server_credentials(str(cert), str(key))
    running = start_server(ServerSettings(spool=str(tmp_path / "spool"), device="cpu"), port=0, token="s3cret",
                           credentials=credentials)
    yield running
    running.stop(grace=0)


def test_a_client_that_trusts_the_certificate_gets_in(tls_server, certificate):
    with InpaintClient(f"localhost:{tls_server.port}", token="s3cret", root_certificates=certificate[0].read_bytes(),
                       retries=0) as client:
        assert client.server_info().api == "internal_inpaint.v1"


def test_a_clear_text_client_is_not_served(tls_server):
    with InpaintClient(f"127.0.0.1:{tls_server.port}", token="s3cret", timeout=5, retries=0) as client:
        with pytest.raises(InpaintServiceError) as refused:
            client.server_info()
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE


def test_tls_needs_both_files(certificate):
    with pytest.raises(security.ServerConfigError, match="both --tls-cert and --tls-key"):
        security.server_credentials(str(certificate[0]), None)
