"""A throw-away nginx serving a docroot on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    etag on;
    # urlwatch sends the time of its last fetch as If-Modified-Since: the default "exact" would never match.
    if_modified_since before;
    types {{
        text/html html;
        text/css css;
        text/plain txt;
        application/javascript js;
        image/png png;
        image/svg+xml svg;
    }}
    default_type application/octet-stream;
    charset utf-8;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {docroot};
        index index.html;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within {timeout} s")


@contextmanager
def nginx(docroot: Path, work: Path, port: int | None = None) -> Iterator[int]:
    """Serve docroot on 127.0.0.1 (a free port unless given); yield the port; stop nginx on exit, error or not."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work.resolve(), port=port, docroot=docroot.resolve()))
    log = work / "stderr.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-p",
                str(work.resolve()),
                "-c",
                str(conf.resolve()),
                "-e",
                str(work.resolve() / "error.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_listening(port, proc, work / "error.log")
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful shutdown
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # master and workers: they share its session
                proc.wait()


def apt_install(missing: list[str]) -> None:
    """Install Debian packages the benchmarks need (root or sudo); nothing if none is missing."""
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"setup: apt-get install {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", *missing], check=True, env=env)
