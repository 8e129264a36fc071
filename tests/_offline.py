"""The test suite's network fence: sockets reach loopback addresses only.

The agentkit pytest plugin already fails a test whose agentkit client sends to a Google host;
this fence covers every other way out too (a plain httpx client, a library's own socket), so
no test can reach the real API, or any host but this machine, whatever it builds.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, cast

__all__ = ["OfflineError", "check_fence", "fenced", "loopback_only"]


class OfflineError(OSError):
    """A test tried to reach a host other than this machine."""


def _is_local(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like: not the network
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:  # a name: only numeric addresses reach `connect`
        return False


def _refuse(host: object) -> OfflineError:
    return OfflineError(f"tests run offline: {host!r} is not this machine (loopback only)")


def _host(address: object) -> object:
    """The host of a socket address (a path for AF_UNIX)."""
    return cast("tuple[object, ...]", address)[0] if isinstance(address, tuple) else address


@contextmanager
def loopback_only() -> Generator[None]:
    """Refuse, in this process, every connection and name lookup that is not local."""
    connect: Callable[..., Any] = socket.socket.connect
    connect_ex: Callable[..., Any] = socket.socket.connect_ex
    getaddrinfo: Callable[..., Any] = socket.getaddrinfo

    def checked_connect(self: socket.socket, address: object) -> Any:
        if not _is_local(host := _host(address)):
            raise _refuse(host)
        return connect(self, address)

    def checked_connect_ex(self: socket.socket, address: object) -> Any:
        if not _is_local(host := _host(address)):
            raise _refuse(host)
        return connect_ex(self, address)

    def checked_getaddrinfo(host: object, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _is_local(name):
            raise socket.gaierror(socket.EAI_NONAME, f"tests run offline: {name!r} not looked up")
        return getaddrinfo(host, *args, **kwargs)

    patched = [
        (socket.socket, "connect", connect, checked_connect),
        (socket.socket, "connect_ex", connect_ex, checked_connect_ex),
        (socket, "getaddrinfo", getaddrinfo, checked_getaddrinfo),
    ]
    for owner, name, _, checked in patched:
        setattr(owner, name, checked)
    try:
        yield
    finally:
        for owner, name, original, _ in patched:
            setattr(owner, name, original)


_SOCKET_FUNCTIONS = (
    (socket.socket, "connect"),
    (socket.socket, "connect_ex"),
    (socket, "getaddrinfo"),
)
_PROBES: tuple[Callable[[], object], ...] = (
    lambda: socket.getaddrinfo("generativelanguage.googleapis.com", 443),
    lambda: socket.getaddrinfo("us-central1-aiplatform.googleapis.com", 443),
    lambda: socket.create_connection(("142.250.0.1", 443), timeout=1),  # a Google address
)


def check_fence() -> None:
    """Fail unless `loopback_only()` is in force here and refuses the real API's host.

    Proven without touching the network: the probes go through a second fence stacked on
    tripwires that stand in for the socket functions, so a probe any fence lets through stops
    at a tripwire instead of leaving the machine.

    Raises:
        AssertionError: The fence is not in force, or it let a probe through.
    """
    installed = [getattr(owner, name) for owner, name in _SOCKET_FUNCTIONS]
    if not all(".checked_" in getattr(function, "__qualname__", "") for function in installed):
        raise AssertionError("the network fence is down: loopback_only() is not in force")

    def tripwire(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"the network fence is down: a probe got through ({args!r})")

    for owner, name in _SOCKET_FUNCTIONS:
        setattr(owner, name, tripwire)
    try:
        with loopback_only():
            for probe in _PROBES:
                try:
                    probe()
                except OSError as refused:
                    if "tests run offline" not in str(refused):
                        raise AssertionError(f"the network fence is down: {refused}") from None
                else:
                    raise AssertionError("the network fence is down: a probe succeeded")
    finally:
        for (holder, attribute), function in zip(_SOCKET_FUNCTIONS, installed, strict=True):
            setattr(holder, attribute, function)


def fenced(code: str) -> str:
    """A `python -c` program that runs `code` behind the fence, once `check_fence()` proved it.

    For a child process given a (fake) key, which would otherwise aim at the real API: the
    suite's own fence stops at the process's edge.
    """
    return (
        f"import sys\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from _offline import check_fence, loopback_only\n"
        "with loopback_only():\n"
        "    try:\n"
        "        check_fence()\n"
        "    except AssertionError as down:\n"
        "        raise SystemExit(str(down)) from None\n"
        f"    exec({code!r})\n"
    )
