"""Loaded by every Python process started with PYTHONPATH=tests/netguard (notebook kernels under
test): any socket connection or name lookup that is not loopback raises, so a hidden download in a
notebook fails the test run instead of passing on a machine that happens to be online."""

import ipaddress
import socket

_LOCAL_NAMES = {"localhost", "ip6-localhost", ""}


def _is_local(host) -> bool:
    if host is None or host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(orig):
    def connect(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise OSError(f"network access blocked during tests (tried {address[0]})")
        return orig(self, address, *args)

    return connect


_getaddrinfo = socket.getaddrinfo


def _getaddrinfo_guard(host, *args, **kwargs):
    if not _is_local(host if isinstance(host, str) else None if host is None else host.decode()):
        raise OSError(f"network access blocked during tests (tried to resolve {host})")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guard(socket.socket.connect)
socket.socket.connect_ex = _guard(socket.socket.connect_ex)
socket.getaddrinfo = _getaddrinfo_guard
