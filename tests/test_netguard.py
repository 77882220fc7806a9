"""The network guard used for notebook kernels really blocks non-loopback traffic."""

import os
import subprocess
import sys
from pathlib import Path

GUARD = Path(__file__).parent / "netguard"


def run(code):
    env = {**os.environ, "PYTHONPATH": str(GUARD)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_remote_connect_blocked():
    r = run("import socket; s = socket.socket(); s.connect(('93.184.216.34', 80))")
    assert r.returncode != 0 and "network access blocked" in r.stderr


def test_remote_lookup_blocked():
    r = run("import socket; socket.getaddrinfo('pypi.org', 443)")
    assert r.returncode != 0 and "network access blocked" in r.stderr


def test_loopback_allowed():
    r = run("import socket; srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1);"
            "c = socket.socket(); c.connect(srv.getsockname()); print('ok')")
    assert r.returncode == 0 and "ok" in r.stdout
