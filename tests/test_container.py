"""The container files, read with the tools of their formats (dockerfile-parse, PyYAML): the
image runs as a non-root user with the database on a volume and a health check on /healthz;
compose runs `digest serve` and `digest schedule run` on one shared volume with a local
Mailpit. Building the image is .ci/run's job where docker or podman exists."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser

REPO = Path(__file__).resolve().parent.parent


def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    return parser


def instructions(name: str) -> list[str]:
    return [i["value"] for i in dockerfile().structure if i["instruction"] == name]


def final_stage() -> list[dict[str, Any]]:
    structure: list[dict[str, Any]] = dockerfile().structure
    last_from = max(i for i, item in enumerate(structure) if item["instruction"] == "FROM")
    return structure[last_from:]


def test_the_image_is_slim_python_3_11_and_runs_as_a_user_of_its_own() -> None:
    assert dockerfile().baseimage == "python:3.11-slim"
    users = [i["value"] for i in final_stage() if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0")
    created = " ".join(i["value"] for i in final_stage() if i["instruction"] == "RUN")
    assert "useradd --system --uid 10001" in created and users[-1] == "digest"


def test_the_database_is_on_a_volume() -> None:
    [volume] = instructions("VOLUME")
    assert json.loads(volume) == ["/data"]
    assert dockerfile().envs["DIGEST_DB"].startswith("/data/")
    assert instructions("WORKDIR")[-1] == "/data"  # ./digest.toml is read from the volume


def test_the_health_check_asks_healthz() -> None:
    [check] = instructions("HEALTHCHECK")
    options, _, command = check.partition("CMD")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command.strip())
    assert argv[0] == "python" and "http://127.0.0.1:8080/healthz" in argv[-1]
    [cmd] = instructions("CMD")
    assert json.loads(cmd)[:4] == ["digest", "serve", "--host", "0.0.0.0"]
    assert instructions("EXPOSE") == ["8080"]


def test_the_health_check_command_is_valid_python() -> None:
    [check] = instructions("HEALTHCHECK")
    code = json.loads(check.partition("CMD")[2].strip())[-1]
    compile(code, "HEALTHCHECK", "exec")
    # Against nothing listening it fails (exit status not 0), as Docker must see it.
    unreachable = code.replace("127.0.0.1:8080", "127.0.0.1:9")
    result = subprocess.run([sys.executable, "-c", unreachable], capture_output=True, check=False)
    assert result.returncode != 0


def test_everything_copied_into_the_image_is_in_the_repository() -> None:
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    for value in instructions("COPY"):
        if value.startswith("--from"):
            continue
        *sources, _ = shlex.split(value)
        for source in sources:
            assert (REPO / source).exists(), source
            assert source not in ignored
    for secret in (".git", "*.db", "digest.toml", "tests"):
        assert secret in ignored


def compose() -> dict[str, Any]:
    value: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return value


def test_compose_runs_serve_and_the_scheduler_on_one_volume() -> None:
    services = compose()["services"]
    web, scheduler = services["web"], services["scheduler"]
    assert web["command"][:2] == ["digest", "serve"]
    assert scheduler["command"][:3] == ["digest", "schedule", "run"]
    for service in (web, scheduler):
        assert service["volumes"] == ["digest-data:/data"]
        assert service["build"] == "."
        assert service["environment"]["DIGEST_DB"] == "/data/subscribers.db"
        assert service["environment"]["DIGEST_SMTP_URL"] == "smtp://mailpit:1025"
        assert "${DIGEST_SECRET_KEY:?" in service["environment"]["DIGEST_SECRET_KEY"]
    assert "digest-data" in compose()["volumes"]
    assert web["ports"] == ["127.0.0.1:8080:8080"]
    # Only `digest serve` answers /healthz; the scheduler's check is switched off.
    assert scheduler["healthcheck"] == {"disable": True}
    assert "healthcheck" not in web


def test_compose_has_a_local_mailpit_as_relay() -> None:
    mailpit = compose()["services"]["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert mailpit["ports"] == ["127.0.0.1:8025:8025"]


def test_ci_builds_the_image_only_where_a_container_engine_exists() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "command -v docker" in script and "command -v podman" in script
    assert "build" in script and "/healthz" in script
