"""Shared fixtures that start or connect to the real components the tests use.

- `postgres_url`: a fresh database on the local PostgreSQL server (127.0.0.1:5432, trust auth), dropped afterwards.
- `s3_endpoint`: a moto S3 server in server mode on loopback; `AWS_ENDPOINT_URL` points at it, so s3fs reaches it
  the same way it reaches MinIO in production.
- `s3_store_url`: a fresh bucket on that server, as an `s3://` store URL.
- `mail_sink`: an SMTP server on loopback (aiosmtpd) and the messages it received.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

POSTGRES_ADMIN_URL = os.environ.get("DRIFTING_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"drifting_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment problem, not a test result
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: start it (see README) — {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {
        key: os.environ.get(key)
        for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_store_url(s3_endpoint: str) -> str:
    import s3fs

    bucket = f"drifting-{uuid.uuid4().hex[:10]}"
    fs = s3fs.S3FileSystem()
    fs.mkdir(bucket)
    s3fs.S3FileSystem.clear_instance_cache()
    return f"s3://{bucket}/store"


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A migrated Airflow metadata database (SQLite) shared by the session's DAG tests."""
    from airflow_support import Airflow

    instance = Airflow(tmp_path_factory.mktemp("airflow-home"))
    instance.migrate()
    return instance


@pytest.fixture
def mail_sink() -> Iterator[tuple[Any, int]]:
    """A real SMTP server on loopback (aiosmtpd) and its inbox."""
    from aiosmtpd.controller import Controller
    from airflow_support import Inbox

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()
