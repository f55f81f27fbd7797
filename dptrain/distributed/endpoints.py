"""Where sockets live: host identity, ipc paths, which address to bind.

Processes of one host talk over ``ipc://`` (Unix sockets in a per-user 0700
directory); processes on different hosts over tcp on OS-assigned ports of the
interface that routes to MASTER_ADDR. Sockets bind to loopback unless
MASTER_ADDR is a non-loopback address.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import secrets
import socket
import tempfile
from typing import Optional


def host_id() -> str:
    """Identifies this host *and* filesystem view: two processes with the same
    id can reach each other's ipc:// sockets."""
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            parts.append(f.read().strip())
    except OSError:
        pass
    try:
        parts.append(os.readlink("/proc/self/ns/mnt"))
    except OSError:
        pass
    return "|".join(parts)


def resolve(addr: str) -> str:
    """MASTER_ADDR (name or address) as an IPv4/IPv6 address string."""
    try:
        ipaddress.ip_address(addr)
        return addr
    except ValueError:
        pass
    try:
        return socket.getaddrinfo(addr, None, type=socket.SOCK_STREAM)[0][4][0]
    except OSError as e:
        raise RuntimeError(f"cannot resolve MASTER_ADDR={addr!r}: {e}") from None


def is_loopback(addr: str) -> bool:
    return ipaddress.ip_address(resolve(addr)).is_loopback


def route_address(master_addr: str, port: int) -> str:
    """The local address this host uses to reach MASTER_ADDR."""
    ip = resolve(master_addr)
    if ipaddress.ip_address(ip).is_loopback:
        return ip
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.connect((ip, port or 9))  # UDP connect sends nothing; it picks the route
            return s.getsockname()[0]
        except OSError:
            return ip


def is_local_address(ip: str) -> bool:
    """Whether `ip` belongs to an interface of this host (bind test)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
            return True
        except OSError:
            return False


def tcp_url(ip: str, port) -> str:
    return f"tcp://[{ip}]:{port}" if ":" in ip else f"tcp://{ip}:{port}"


def is_ipv6_url(url: str) -> int:
    """1 for a tcp url with an IPv6 address (ZeroMQ's IPV6 socket option), else 0;
    IPv4 sockets stay plain IPv4, so hosts without IPv6 keep working."""
    return int(url.startswith("tcp://["))


def rendezvous_bind_url(master_addr: str, port: int) -> str:
    """Where rank 0 binds its rendezvous socket: loopback for a loopback
    MASTER_ADDR, else that address, or every interface when the address is not
    one of this host's (a NAT or service address that forwards to it)."""
    ip = resolve(master_addr)
    if ipaddress.ip_address(ip).is_loopback or is_local_address(ip):
        return tcp_url(ip, port)
    return f"tcp://*:{port}"


def _ipc_dir() -> str:
    base = os.path.join(tempfile.gettempdir(), f"dptrain-{os.getuid()}")
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    st = os.stat(base)
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RuntimeError(f"{base} must be a directory owned by this user with mode 0700")
    return base


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_ipc(directory: str) -> None:
    """Remove socket files left by killed processes of this user (the pid is in the name)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = re.fullmatch(r"[0-9a-f]{8}-r\d+-p(\d+)-[0-9a-f]{6}\.sock", name)
        if m and not _pid_alive(int(m.group(1))):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def ipc_path(token: bytes, rank: int) -> str:
    """A fresh Unix-socket path for this rank's data socket."""
    tag = hashlib.sha256(token).hexdigest()[:8]
    name = f"{tag}-r{rank}-p{os.getpid()}-{secrets.token_hex(3)}.sock"
    directory = _ipc_dir()
    remove_stale_ipc(directory)
    path = os.path.join(directory, name)
    if len(path) > 100:  # sun_path is 108 bytes
        path = os.path.join("/tmp", name)
    return path


def remove_ipc(url: Optional[str]) -> None:
    if url and url.startswith("ipc://"):
        try:
            os.unlink(url[len("ipc://"):])
        except OSError:
            pass
