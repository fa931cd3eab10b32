"""Fixtures: moto as EC2, the IMDSv2 fake per node, figure 1 seeded, the binary."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # makes `harness` importable for tests too

from harness.imds_fake import start_imds  # noqa: E402
from harness.moto import ec2_client, start_moto  # noqa: E402
from harness.runner import run_vip  # noqa: E402,F401  (re-exported for tests)
from harness.scenario import node_json, seed_figure1  # noqa: E402
from harness.tgw_scenario import Clients  # noqa: E402

REGION = "us-east-1"
MOTO_SEED = 1  # same seed every test: repeatable ids


@pytest.fixture(scope="session")
def venv():
    path = Path(os.environ.get("EC2VIP_VENV") or REPO / ".venv")
    if not (path / "bin" / "moto_server").exists():
        pytest.skip(f"no moto_server in {path} (set EC2VIP_VENV to a venv with moto[server])")
    return path


@pytest.fixture(scope="session")
def moto_session(venv, tmp_path_factory):
    log = tmp_path_factory.getbasetemp() / "moto.log"
    server = start_moto(str(venv), log_path=str(log), region=REGION)
    yield server
    server.stop()


@pytest.fixture
def moto(moto_session):
    """The session's moto server, wiped (and its id generator reseeded) for this test."""
    moto_session.reset(seed=MOTO_SEED)
    return moto_session


@pytest.fixture(scope="session")
def moto_ext_session(venv, tmp_path_factory):
    """moto plus the Transit Gateway calls it lacks (harness/moto_ext.py)."""
    log = tmp_path_factory.getbasetemp() / "moto_ext.log"
    server = start_moto(str(venv), log_path=str(log), region=REGION, extended=True)
    yield server
    server.stop()


@pytest.fixture
def tgw_clients(moto_ext_session):
    """Clients (per region and account) on the extended moto, wiped for this test. A new
    Clients after every reset: a reset forgets the keys AssumeRole issued."""
    moto_ext_session.reset(seed=MOTO_SEED)
    return Clients(moto_ext_session.url)


@pytest.fixture
def ec2(moto):
    return ec2_client(moto.url, REGION)


@pytest.fixture
def figure1(ec2):
    return seed_figure1(ec2)


def _imds_for(seed, name):
    server = start_imds(node_json(seed, name, REGION))
    server.node_name = name
    return server


@pytest.fixture
def imds_node1(figure1):
    server = _imds_for(figure1, "node1")
    yield server
    server.stop()


@pytest.fixture
def imds_node2(figure1):
    server = _imds_for(figure1, "node2")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def binary():
    path = Path(os.environ.get("EC2VIP_BIN") or REPO / "target" / "debug" / "ec2-vip")
    if not os.access(path, os.X_OK):
        pytest.skip(f"ec2-vip binary not found at {path}: run `cargo build` "
                    "or set EC2VIP_BIN")
    return path
