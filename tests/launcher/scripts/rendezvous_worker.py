"""Every rank sends (rank, token) to rank 0's listener on MASTER_ADDR:MASTER_PORT; rank 0
checks it heard from every rank of the world with the same token and answers 'ok'.
Prints one JSON line with what it saw; exits 1 when anything disagrees."""
import json
import os
import socket
import sys
import time

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
token = os.environ["DPTRAIN_JOB_TOKEN"]
deadline = time.monotonic() + 20


def recv_line(conn):
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


if rank == 0:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(world)
    srv.settimeout(20)
    conns, seen = [], {0}
    for _ in range(world - 1):
        conn, _ = srv.accept()
        conn.settimeout(20)
        msg = json.loads(recv_line(conn))
        if msg["token"] != token or msg["world"] != world:
            sys.exit(f"peer disagrees: {msg}")
        seen.add(msg["rank"])
        conns.append(conn)
    ok = seen == set(range(world))
    for conn in conns:
        conn.sendall(b"ok\n" if ok else b"bad\n")
        conn.close()
    print(json.dumps({"rank": rank, "ranks": sorted(seen), "port": port, "ok": ok}))
    sys.exit(0 if ok else 1)

while True:
    try:
        conn = socket.create_connection((addr, port), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("rank 0 never listened")
        time.sleep(0.05)
conn.settimeout(20)
conn.sendall((json.dumps({"rank": rank, "token": token, "world": world}) + "\n").encode())
reply = recv_line(conn).strip()
print(json.dumps({"rank": rank, "reply": reply, "port": port, "ok": reply == "ok"}))
sys.exit(0 if reply == "ok" else 1)
