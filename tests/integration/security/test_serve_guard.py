"""``batchmap serve`` answers only its own Host, its own origin and, when set, the token: a real process, real HTTP."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from security_support import BATCHMAP, batchmap

from batchmap.sources.sqlite import create_queue, send

MARK = """\
import json, os

def handler(event, context):
    with open(os.environ["MARK_FILE"], "a") as out:
        out.write(json.dumps(event) + "\\n")
    return {"ok": True}
"""


class Served:
    """A running ``batchmap serve`` and the file its function appends each event to."""

    def __init__(self, proc: subprocess.Popen[str], port: int, path: str, marks: Path) -> None:
        self.proc, self.port, self.path, self.marks = proc, port, path, marks

    def request(self, method: str = "POST", headers: dict[str, str] | None = None, host: str | None = None,
                body: object = None) -> tuple[int, dict[str, object]]:
        """One request with exactly these headers (``Host`` as given, or none at all with ``host=""``)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.putrequest(method, self.path if method == "POST" else self.path.rsplit("/", 1)[0],
                        skip_host=host is not None)
        if host:
            conn.putheader("Host", host)
        data = json.dumps(body if body is not None else {"n": uuid.uuid4().hex}).encode() if method == "POST" else b""
        for name, value in {**(headers or {}), "Content-Length": str(len(data))}.items():
            conn.putheader(name, value)
        conn.endheaders(data)
        response = conn.getresponse()
        document = json.loads(response.read() or b"{}")
        conn.close()
        return response.status, document

    def invoked(self) -> int:
        return len(self.marks.read_text().splitlines()) if self.marks.exists() else 0


Serve = Callable[..., Served]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    (tmp_path / "mark.py").write_text(MARK)
    started: list[subprocess.Popen[str]] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> Served:
        import os

        marks = tmp_path / f"marks-{uuid.uuid4().hex[:8]}.jsonl"
        proc = subprocess.Popen(
            [*BATCHMAP, "serve", "--function", "mark.handler", "--code-uri", str(tmp_path), "--port", "0",
             "--invoker", "inprocess", "--concurrency", "1", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "MARK_FILE": str(marks), **(env or {})},
        )
        started.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)(/\S+)", line)
        assert match, f"no URL in {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        return Served(proc, int(match.group(1)), match.group(2), marks)

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_only_the_servers_own_host_names_are_answered(serve: Serve) -> None:
    served = serve()
    for host in (f"127.0.0.1:{served.port}", f"localhost:{served.port}", f"[::1]:{served.port}", "localhost"):
        assert served.request(host=host)[0] == 200, host
    assert served.invoked() == 4
    for host in (f"attacker.test:{served.port}", "attacker.test", f"127.0.0.1:{served.port + 1}", "",
                 f"127.0.0.1.attacker.test:{served.port}"):
        status, document = served.request(host=host)
        assert status == 403 and "Host" in str(document["message"]), (host, document)
        assert served.request("GET", host=host)[0] == 403
    assert served.invoked() == 4  # refused requests never reach the function


def test_a_name_given_with_allowed_host_is_answered(serve: Serve) -> None:
    served = serve("--allowed-host", "Dev.Box.test")
    assert served.request(host=f"dev.box.test:{served.port}")[0] == 200
    assert served.request(headers={"Origin": f"http://dev.box.test:{served.port}"})[0] == 200
    assert served.request(host=f"other.test:{served.port}")[0] == 403


def test_cross_origin_requests_are_refused(serve: Serve) -> None:
    served = serve()
    assert served.request(headers={"Origin": f"http://127.0.0.1:{served.port}"})[0] == 200
    assert served.request(headers={"Origin": f"http://localhost:{served.port}", "Sec-Fetch-Site": "same-origin"})[0] \
        == 200
    refused = [
        {"Origin": "http://attacker.test"},
        {"Origin": "null"},
        {"Origin": f"http://localhost:{served.port + 1}"},
        {"Origin": f"https://127.0.0.1:{served.port}"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in refused:
        status, document = served.request(headers=headers)
        assert status == 403 and document["Type"] == "User", headers
    assert served.invoked() == 2


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_auth_token_is_required_on_every_request(serve: Serve, how: str) -> None:
    token = uuid.uuid4().hex
    served = serve("--auth-token", token) if how == "flag" else serve(env={"BATCHMAP_AUTH_TOKEN": token})
    for headers in ({}, {"X-Batchmap-Auth-Token": token[:-1]}, {"X-Batchmap-Auth-Token": token + "x"}):
        status, document = served.request(headers=headers)
        assert status == 403, headers
        assert token not in json.dumps(document)
        assert served.request("GET", headers=headers)[0] == 403
    assert served.invoked() == 0
    assert served.request(headers={"X-Batchmap-Auth-Token": token})[0] == 200
    assert served.request("GET", headers={"X-Batchmap-Auth-Token": token})[0] == 200
    assert served.invoked() == 1


def test_batchmap_run_invokes_a_protected_serve_with_the_token(serve: Serve, tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    served = serve(env={"BATCHMAP_AUTH_TOKEN": token})
    queue = f"sqlite:///{tmp_path}/q.db?queue=jobs{uuid.uuid4().hex[:6]}"
    create_queue(queue)
    send(queue, ["one", "two"])
    url = f"http://127.0.0.1:{served.port}{served.path}"
    result = batchmap("run", "--source", queue, "--function", url, "--until-idle", "--summary-json",
                      cwd=tmp_path, env={"BATCHMAP_AUTH_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    bodies = sorted(r["body"] for line in served.marks.read_text().splitlines() for r in json.loads(line)["Records"])
    assert bodies == ["one", "two"]
