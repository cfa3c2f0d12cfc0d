"""The deployment files keep docs/deployment.md's promises; checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import http.server
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from spotify_mcp.cli import SpotifyMcpCli

ROOT = Path(__file__).resolve().parents[1]
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
SERVICES = ("api", "collector", "frontend")


class _ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it: `!reset` empties what an earlier file set."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: _Reset())


class _Reset:
    """Compose's `!reset`: the value an override file clears."""


def _compose(name: str = "docker-compose.yml") -> dict[str, Any]:
    loaded = yaml.load((ROOT / name).read_text(), Loader=_ComposeLoader)  # noqa: S506
    assert isinstance(loaded, dict)
    return loaded


def _service(name: str) -> dict[str, Any]:
    service = _compose()["services"][name]
    assert isinstance(service, dict)
    return service


def _memory_limit(name: str) -> str:
    return str(_service(name)["deploy"]["resources"]["limits"]["memory"])


def _healthcheck(name: str) -> list[str]:
    test = _service(name)["healthcheck"]["test"]
    assert isinstance(test, list)
    return [str(part) for part in test]


def _cli_subcommands() -> set[str]:
    parser = SpotifyMcpCli().parser
    return set(
        next(
            action.choices
            for action in parser._actions  # argparse keeps the subcommands here
            if action.choices is not None
        )
    )


def _dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split into build stages."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(stripped)
    return stages[1:]


def _dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored_by_docker(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, with slashes) out of the build context."""
    ignored = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in _dockerignore_patterns():
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if any(
            fnmatch.fnmatchcase(prefix, body)
            or (body.startswith("**/") and fnmatch.fnmatchcase(prefix.split("/")[-1], body[3:]))
            for prefix in prefixes
        ):
            ignored = not negated
    return ignored


class TestComposeStartOrder:
    def test_compose_files_parse(self) -> None:
        assert set(SERVICES) | {"postgres", "migrate"} <= set(_compose()["services"])
        assert set(_compose("docker-compose.override.yml")["services"]) <= set(
            _compose()["services"]
        )

    def test_postgres_16_keeps_its_data_on_a_named_volume_and_reports_health(self) -> None:
        postgres = _service("postgres")
        assert str(postgres["image"]).startswith("postgres:16")
        volume = next(v for v in postgres["volumes"] if v.endswith(":/var/lib/postgresql/data"))
        assert volume.split(":")[0] in _compose()["volumes"]
        assert "pg_isready" in " ".join(_healthcheck("postgres"))

    def test_migrate_runs_once_after_postgres_is_healthy(self) -> None:
        migrate = _service("migrate")
        assert migrate["command"] == ["migrate"]
        assert migrate["restart"] == "no"
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"

    @pytest.mark.parametrize("name", SERVICES)
    def test_every_service_waits_for_the_migration_to_succeed(self, name: str) -> None:
        depends_on = _service(name)["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully"

    @pytest.mark.parametrize("name", [*SERVICES, "migrate"])
    def test_every_command_is_a_spotify_mcp_subcommand(self, name: str) -> None:
        command = _service(name)["command"]
        assert command[0] in _cli_subcommands()

    @pytest.mark.parametrize("name", [*SERVICES, "migrate"])
    def test_every_service_reaches_postgres_on_the_compose_network(self, name: str) -> None:
        url = _service(name)["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://spotify:")
        assert url.endswith("@postgres:5432/spotify")


class TestComposeHealthAndLimits:
    @pytest.mark.parametrize(("name", "port"), [("api", 8000), ("frontend", 8001)])
    def test_web_services_are_checked_on_their_healthz(self, name: str, port: int) -> None:
        test = _healthcheck(name)
        assert test[0] == "CMD"
        assert f"http://127.0.0.1:{port}/healthz" in test

    def test_collector_is_checked_by_its_process(self) -> None:
        assert _healthcheck("collector")[-1] == "collector"
        assert "init" not in _service("collector")  # the check reads PID 1

    @pytest.mark.parametrize(
        ("name", "limit"),
        [("api", "512m"), ("frontend", "512m"), ("collector", "256m"), ("postgres", "1g")],
    )
    def test_memory_limits(self, name: str, limit: str) -> None:
        assert _memory_limit(name) == limit

    def test_production_services_do_not_reload(self) -> None:
        assert "--reload" not in (ROOT / "docker-compose.yml").read_text()

    def test_development_override_reloads_the_web_services(self) -> None:
        services = _compose("docker-compose.override.yml")["services"]
        for name in ("api", "frontend"):
            assert "--reload" in services[name]["command"]
            assert services[name]["environment"]["APP_ENV"] == "dev"
        assert _compose()["services"]["api"]["environment"]["APP_ENV"] == "production"

    def test_api_and_frontend_listen_on_every_interface_inside_their_container(self) -> None:
        every_interface = ".".join(["0"] * 4)
        assert _service("api")["environment"]["API_HOST"] == every_interface
        assert _service("frontend")["environment"]["FRONTEND_HOST"] == every_interface
        assert _service("frontend")["environment"]["API_BASE_URL"] == "http://api:8000"

    @pytest.mark.parametrize("name", ["api", "frontend"])
    def test_published_ports_stay_on_the_loopback_interface(self, name: str) -> None:
        assert all(port.startswith("127.0.0.1:") for port in _service(name)["ports"])


class TestComposeVolumesAndSettings:
    def test_uploaded_archives_live_on_a_volume_shared_by_api_and_collector(self) -> None:
        mounts = {}
        for name in ("api", "collector"):
            service = _service(name)
            import_dir = service["environment"]["IMPORT_DIR"]
            mounts[name] = next(v for v in service["volumes"] if v.endswith(f":{import_dir}"))
        assert mounts["api"] == mounts["collector"]
        assert mounts["api"].split(":")[0] in _compose()["volumes"]

    def test_every_variable_compose_reads_is_in_env_example(self) -> None:
        text = (ROOT / "docker-compose.yml").read_text()
        read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
        example = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
        assert read
        assert read <= example

    def test_trusted_proxy_address_in_env_example_is_the_caddy_container(self) -> None:
        caddy = _service("caddy")
        address = caddy["networks"]["default"]["ipv4_address"]
        subnet = _compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
        assert address.rsplit(".", 1)[0] == subnet.split("/")[0].rsplit(".", 1)[0]
        assert (
            f"Caddy of docker-compose.yml (--profile https): {address}"
            in (ROOT / ".env.example").read_text()
        )

    def test_caddy_serves_both_public_urls_and_proxies_to_the_services(self) -> None:
        caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
        assert "{$PUBLIC_BASE_URL} {" in caddyfile
        assert "{$FRONTEND_BASE_URL} {" in caddyfile
        assert "reverse_proxy {$UPSTREAM_API:api:8000}" in caddyfile
        assert "reverse_proxy {$UPSTREAM_FRONTEND:frontend:8001}" in caddyfile
        assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in _service("caddy")["volumes"]


class TestScaleOut:
    def test_api_replicas_share_rate_limits_in_redis(self) -> None:
        scale = _compose("deploy/compose.scale.yml")["services"]
        assert scale["api"]["environment"]["RATE_LIMIT_STORAGE_URL"] == "redis://redis:6379/0"
        assert scale["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "redis-cli" in scale["redis"]["healthcheck"]["test"]

    def test_api_replicas_publish_no_host_port(self) -> None:
        # Several replicas cannot all bind 127.0.0.1:8000; Caddy reaches them as `api`.
        assert isinstance(_compose("deploy/compose.scale.yml")["services"]["api"]["ports"], _Reset)

    def test_collectors_can_be_scaled(self) -> None:
        collector = _service("collector")
        assert "ports" not in collector
        assert "container_name" not in collector


class TestDockerfile:
    def test_builds_in_stages_and_runs_as_an_unprivileged_user(self) -> None:
        stages = _dockerfile_stages()
        assert len(stages) >= 3  # uv, build, runtime
        runtime = stages[-1]
        users = [line.split()[1] for line in runtime if line.startswith("USER ")]
        assert users
        assert users[-1].split(":")[0] not in {"root", "0"}
        assert not any(line.startswith(("COPY --from=uv", "RUN uv")) for line in runtime)

    def test_installs_from_the_lock_file_with_the_makefiles_uv(self) -> None:
        dockerfile = (ROOT / "Dockerfile").read_text()
        makefile = (ROOT / "Makefile").read_text()
        pinned = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M)
        assert pinned
        assert f"ARG UV_VERSION={pinned.group(1)}\n" in dockerfile
        runs = [line for stage in _dockerfile_stages() for line in stage if line.startswith("RUN ")]
        syncs = [line for line in runs if "uv sync" in line]
        assert len(syncs) == 2  # the dependencies layer, then the project
        assert all("--locked" in sync and "--no-dev" in sync for sync in syncs)

    def test_entrypoint_is_the_command_line(self) -> None:
        runtime = _dockerfile_stages()[-1]
        assert 'ENTRYPOINT ["spotify-mcp"]' in runtime
        cmd = next(line for line in runtime if line.startswith("CMD "))
        assert cmd.split('"')[1] in _cli_subcommands()

    def test_every_copied_path_exists_and_is_in_the_build_context(self) -> None:
        copies = [
            line.split()[1:-1]
            for stage in _dockerfile_stages()
            for line in stage
            if line.startswith("COPY ") and "--from=" not in line
        ]
        sources = [source for sources in copies for source in sources]
        assert "uv.lock" in sources
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not _ignored_by_docker(source), source

    @pytest.mark.parametrize("secret", [".env", "data/secrets.env", "data/spotify-mcp.db"])
    def test_local_secrets_and_data_stay_out_of_the_build_context(self, secret: str) -> None:
        assert _ignored_by_docker(secret)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/healthz": 200, "/broken": 500}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def web_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(HEALTHCHECK), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def collector_like_process() -> Iterator[subprocess.Popen[bytes]]:
    # argv carries "collector" the way `spotify-mcp collector` does.
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "collector"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


class TestHealthcheckScript:
    def test_http_check_passes_on_a_2xx_answer(self, web_server: str) -> None:
        assert _check(f"{web_server}/healthz").returncode == 0

    @pytest.mark.parametrize("path", ["/broken", "/missing"])
    def test_http_check_fails_on_an_error_answer(self, web_server: str, path: str) -> None:
        result = _check(f"{web_server}{path}")
        assert result.returncode == 1
        assert "unhealthy" in result.stderr

    def test_http_check_fails_when_nothing_listens(self) -> None:
        server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
        port = server.server_address[1]
        server.server_close()
        assert _check(f"http://127.0.0.1:{port}/healthz").returncode == 1

    def test_collector_check_passes_while_the_collector_runs(
        self, collector_like_process: subprocess.Popen[bytes]
    ) -> None:
        assert _check("collector", "--pid", str(collector_like_process.pid)).returncode == 0

    def test_collector_check_fails_when_the_collector_is_stopped(
        self, collector_like_process: subprocess.Popen[bytes]
    ) -> None:
        collector_like_process.send_signal(signal.SIGSTOP)
        try:
            result = _check("collector", "--pid", str(collector_like_process.pid))
        finally:
            collector_like_process.send_signal(signal.SIGCONT)
        assert result.returncode == 1

    def test_collector_check_fails_when_the_collector_has_exited(
        self, collector_like_process: subprocess.Popen[bytes]
    ) -> None:
        collector_like_process.kill()
        collector_like_process.wait()
        assert _check("collector", "--pid", str(collector_like_process.pid)).returncode == 1

    def test_collector_check_fails_for_another_process(self) -> None:
        with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
            try:
                result = _check("collector", "--pid", str(other.pid))
            finally:
                other.kill()
        assert result.returncode == 1
        assert "not the collector" in result.stderr
