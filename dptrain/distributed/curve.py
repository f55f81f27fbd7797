"""ZeroMQ CURVE (encryption and authentication, from libsodium) for the sockets that cross hosts.

The job's key pair is derived from the job secret, so it is handed out exactly as the secret
is (DPTRAIN_JOB_TOKEN, a secret file, or the same-host agreement) and nothing else needs
distributing. Every tcp listener of the job is a CURVE server with that key pair and every
tcp connection a CURVE client that must know it: a peer without the job's secret fails the
handshake inside libzmq, so its frames never reach Python, and the token in each header no
longer travels in clear. Same-host traffic (ipc, shared memory) is protected by file
permissions and stays as it is.

DPTRAIN_CURVE: "auto" (default: on when MASTER_ADDR is not a loopback address, i.e. the job
may span hosts), "1" (on for every tcp socket), "0" (off). Under "auto" the rendezvous socket
uses CURVE on one host too (`rendezvous_keys`): any local user can reach 127.0.0.1, and libzmq's
ZMQ_MAXMSGSIZE bounds frames, not messages, so a peer writing ZMTP by hand could make rank 0
buffer one endless multipart message (and a process holding the port first would be sent the
hellos, token and all).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

import zmq
from zmq.utils import z85

from . import endpoints

CURVE_VAR = "DPTRAIN_CURVE"
# A CURVE MESSAGE command adds 33 bytes to a frame (name, nonce, MAC, flags); ZMQ_MAXMSGSIZE
# counts them, so limits on sockets under CURVE leave this much room.
CURVE_OVERHEAD = 256


@dataclass(frozen=True)
class CurveKeys:
    public: bytes = field(repr=False)  # z85, 40 bytes
    secret: bytes = field(repr=False)

    @classmethod
    def from_token(cls, token: bytes) -> "CurveKeys":
        # Any 32 bytes are a Curve25519 secret key (libsodium clamps them).
        secret = z85.encode(hashlib.sha256(b"dptrain-curve-v1\0" + token).digest())
        return cls(zmq.curve_public(secret), secret)

    def serve(self, sock: zmq.Socket) -> None:
        """Make the endpoints `sock` binds from now on CURVE servers."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def client(self, sock: zmq.Socket) -> None:
        """Make the connections `sock` opens from now on CURVE clients of the job's servers."""
        sock.curve_serverkey = self.public
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret


def wanted(master_addr: str, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this job's tcp sockets use CURVE (the same answer on every rank)."""
    environ = os.environ if environ is None else environ
    mode = environ.get(CURVE_VAR, "").strip().lower() or "auto"
    if mode in ("0", "off", "no", "false"):
        return False
    if mode in ("1", "on", "yes", "true"):
        return True
    if mode != "auto":
        raise ValueError(f"{CURVE_VAR} must be auto, 1 or 0, not {mode!r}")
    return not endpoints.is_loopback(master_addr)


def keys_for(token: bytes, master_addr: str, environ: Optional[Mapping[str, str]] = None) -> Optional[CurveKeys]:
    """The job's CURVE keys when its tcp sockets use CURVE, else None."""
    if not wanted(master_addr, environ):
        return None
    if not zmq.has("curve"):
        raise RuntimeError(f"this job spans hosts, so its sockets use ZeroMQ CURVE, but this pyzmq "
                           f"was built without it: install pyzmq from its wheels (they ship libsodium), "
                           f"or set {CURVE_VAR}=0 to send in clear")
    return CurveKeys.from_token(token)


def rendezvous_keys(token: bytes, master_addr: str, environ: Optional[Mapping[str, str]] = None
                    ) -> Optional[CurveKeys]:
    """The rendezvous socket's keys: the job's when its tcp sockets use CURVE, and under "auto" on
    one host too (where pyzmq has CURVE); None only with DPTRAIN_CURVE=0 or without CURVE."""
    keys = keys_for(token, master_addr, environ)
    if keys is not None:
        return keys
    environ = os.environ if environ is None else environ
    if environ.get(CURVE_VAR, "").strip().lower() in ("0", "off", "no", "false") or not zmq.has("curve"):
        return None
    return CurveKeys.from_token(token)
