#!/usr/bin/env python3
"""Stress reproducer for the test_body_limit flake (tests/e2e/test_e2e.c):
a fresh GET /health closed with no answer right after the buffered-bodies cap.

Starts BUILD/facerec serve on loopback (its own port and temp data dir, no
models), optionally with CPU hogs, and repeats the test's sequence: 12
connections each send a 90 KB JSON body in two parts (85 KB, 300 ms, 5 KB)
while the cap on buffered bodies (8 x FACEREC_MAX_UPLOAD_BYTES) answers some
503 in the middle of the body; every answer is read until the server closes
(the 422s are kept alive: libmicrohttpd's 60 s idle timeout closes them, so a
round of the real binary takes ~61 s); then one GET /health on a new
connection. Counts the rounds whose /health got no status line.

  python3 tools/repro_cap_flake.py [--build build/san] [--rounds 8] [--hogs 2] [--pin] [--dump]

--pin puts the server and the hogs on CPU 0, the hogs at a higher priority
(starves the server's threads). REPRO_WRAP="strace -f -o FILE ..." runs the
server under a wrapper. Every process it starts is stopped by its PID; every
loop is bounded. Exit status 1 when a /health was not answered 200; the temp
dir (server log) is kept then, removed otherwise.
"""
import argparse, json, os, secrets, select, shutil, signal, socket, subprocess, sys, tempfile, time

LEN, FIRST, PAUSE_S = 90000, 85000, 0.3


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def exchange(port, data, timeout=30.0, sock=None):
    """Send data, read until the server closes (or timeout). Returns (bytes, error text)."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(False)
    out, sent, err = b"", 0, ""
    end = time.time() + timeout
    while time.time() < end:
        r, w, _ = select.select([s], [s] if sent < len(data) else [], [], 0.5)
        if w:
            try:
                sent += s.send(data[sent:])
            except BlockingIOError:
                pass
            except OSError as e:
                err, data = e.strerror or str(e), data[:sent]
        if r:
            try:
                b = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                err = e.strerror or str(e)
                break
            if not b:
                break
            out += b
    else:
        err = "timeout"
    s.close()
    return out, err


def http(port, method, path, headers="", body=b""):
    req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}"
    if body or method in ("POST", "PUT", "PATCH"):
        req += f"Content-Length: {len(body)}\r\n"
    return exchange(port, req.encode() + b"\r\n" + body)


def status_of(raw):
    return int(raw[9:12]) if raw.startswith(b"HTTP/1.") and len(raw) >= 12 and raw[9:12].isdigit() else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/san")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--hogs", type=int, default=2, help="busy-loop processes beside the server")
    ap.add_argument("--conns", type=int, default=12)
    ap.add_argument("--pin", action="store_true")
    ap.add_argument("--dump", action="store_true", help="print the server port's sockets (ss) before each /health")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="facerec-repro-")
    os.mkdir(os.path.join(root, "data"), 0o700)
    port = free_port()
    token = "repro-admin-" + secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEREC_")}
    env.update(FACEREC_LISTEN=f"127.0.0.1:{port}", FACEREC_DATA_DIR=os.path.join(root, "data"),
               FACEREC_ADMIN_TOKEN=token, FACEREC_MODELS_DIR=os.path.join(root, "no-models"),
               FACEREC_MAX_UPLOAD_BYTES="100000")
    pin = (lambda: os.sched_setaffinity(0, {0})) if args.pin else None
    hog_pre = (lambda: (os.sched_setaffinity(0, {0}), os.nice(-5))) if args.pin else None
    log = open(os.path.join(root, "server.log"), "wb")
    wrap = os.environ.get("REPRO_WRAP", "").split()
    srv = subprocess.Popen(wrap + [os.path.join(args.build, "facerec"), "serve"], stdout=log, stderr=log, env=env,
                           preexec_fn=pin)
    hogs, failed = [], True
    try:
        for _ in range(300):
            try:
                if status_of(http(port, "GET", "/health")[0]) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            print("the server did not come up")
            return 2
        raw, _ = http(port, "POST", "/api/v1/admin/clients",
                      f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n", b'{"name":"repro"}')
        key = json.loads(raw.split(b"\r\n\r\n", 1)[1])["data"]["api_key"]
        for _ in range(args.hogs):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=hog_pre))

        body = b'{"name":"' + b"n" * (LEN - 11) + b'"}'
        head = (f"POST /api/v1/subjects HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {LEN}\r\n\r\n").encode()
        silent = other = 0
        answers = {}
        t0 = time.time()
        for rnd in range(args.rounds):
            fds = []
            for _ in range(args.conns):
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                s.sendall(head + body[:FIRST])
                fds.append(s)
            time.sleep(PAUSE_S)
            for s in fds:
                try:
                    s.sendall(body[FIRST:])
                except OSError:
                    pass
            for s in fds:
                st = status_of(exchange(port, b"", timeout=120.0, sock=s)[0])
                answers[st] = answers.get(st, 0) + 1
            if args.dump:
                subprocess.run(["ss", "-tanoei", f"( sport = :{port} or dport = :{port} )"])
            raw, err = http(port, "GET", "/health")
            st = status_of(raw)
            if st == 0:
                silent += 1
                print(f"round {rnd}: GET /health: no status line ({len(raw)} bytes {raw[:40]!r}, {err or 'EOF'})",
                      flush=True)
            elif st != 200:
                other += 1
                print(f"round {rnd}: GET /health → {st}", flush=True)
        print(f"{args.rounds} rounds in {time.time() - t0:.0f} s ({args.build}, hogs {args.hogs}{', pinned' if args.pin else ''}): "
              f"body answers {dict(sorted(answers.items()))}; /health unanswered {silent}, other status {other}")
        failed = bool(silent or other)
        return 1 if failed else 0
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(15)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        log.close()
        if failed:
            print("server log:", os.path.join(root, "server.log"))
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
