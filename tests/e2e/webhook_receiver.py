#!/usr/bin/env python3
"""A real webhook receiver for the e2e tests (Python 3 standard library only).

    python3 webhook_receiver.py --port P --secret whsec_... [--secret2 whsec_...] --log FILE
    python3 webhook_receiver.py --selftest

It listens on 127.0.0.1 (port 0: the kernel picks one) and prints the port on
stdout's first line. Every request to a path other than /_control and /_log
is a delivery: its Standard Webhooks 1.0 headers are checked with this file's
own HMAC-SHA256 code (every "v1," entry of webhook-signature against every
known secret; which secrets matched is recorded), webhook-timestamp must be
within 5 minutes of now, and one JSON line is appended to --log (and kept for
GET /_log):

    {"seq", "received_at" (unix s), "method", "path", "id", "timestamp",
     "timestamp_ok", "type", "signature_ok", "all_signatures_ok",
     "signatures_count", "verified_secrets" (indices into the secrets in use),
     "entries": [{"version", "verified_by": [...]}], "headers": {...},
     "body" (parsed JSON or null), "body_len", "body_raw" (when not JSON),
     "answered" (the status given)}

signature_ok is the Standard Webhooks verdict: the timestamp is fresh and at
least one v1 signature matches a known secret.

How it answers is scripted with POST /_control (JSON):
    [{"status": 500}, {"status": 302, "location": "/elsewhere"}, ...]
        the next responses on any path without a script of its own, in order;
        each {"status", "location"?, "delay_ms"?, "retry_after"?, "body"?}.
        When the list is used up: 200.
    {"path": "/p", "responses": [...]}      a script for one path
    {"secrets": ["whsec_...", ...]}         the secrets to verify with
    {"path": "/p", "secrets": [...]}        the secrets for one path
    {"clear_log": true}                     forget what was recorded so far
GET /_log (optionally ?path=/p) returns the recorded lines, one JSON per line.
SIGTERM (or SIGINT) stops it.

--selftest checks the HMAC code against the Standard Webhooks published
vector and exits 0 when it verifies (and a tampered body does not).
"""

import argparse
import base64
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TOLERANCE_S = 5 * 60
MAX_BODY = 16 * 1024 * 1024


def secret_bytes(secret):
    """The HMAC key of a "whsec_<base64>" secret: the base64 decoded."""
    if secret.startswith("whsec_"):
        secret = secret[len("whsec_"):]
    return base64.b64decode(secret, validate=True)


def signature(key, msg_id, timestamp, body):
    """base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def check_signatures(secrets, msg_id, timestamp, body, header):
    """Every space-separated "version,signature" entry of header, each with
    the indices of the secrets that produced it (v1 only)."""
    keys = []
    for s in secrets:
        try:
            keys.append(secret_bytes(s))
        except (ValueError, TypeError):
            keys.append(None)
    entries = []
    for part in (header or "").split():
        version, _, sig = part.partition(",")
        entry = {"version": version, "verified_by": []}
        if version == "v1" and sig:
            for i, key in enumerate(keys):
                if key is not None and hmac.compare_digest(
                        signature(key, msg_id, timestamp, body).encode(), sig.encode()):
                    entry["verified_by"].append(i)
        entries.append(entry)
    return entries


def selftest():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    ts = "1614265330"
    body = b'{"test": 2432232314}'
    header = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    good = check_signatures([secret], msg_id, ts, body, "v1,bogus " + header)
    bad = check_signatures([secret], msg_id, ts, body + b" ", header)
    ok = good[0]["verified_by"] == [] and good[1]["verified_by"] == [0] and bad[0]["verified_by"] == []
    print("selftest: published vector %s" % ("verified" if ok else "NOT verified"))
    return 0 if ok else 1


class State:
    def __init__(self, secrets, log_path):
        self.lock = threading.Lock()
        self.secrets = list(secrets)
        self.path_secrets = {}
        self.script = []
        self.path_scripts = {}
        self.lines = []
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None

    def next_response(self, path):
        with self.lock:
            script = self.path_scripts.get(path)
            if script is None:
                script = self.script
            return script.pop(0) if script else {"status": 200}

    def secrets_for(self, path):
        with self.lock:
            return list(self.path_secrets.get(path, self.secrets))

    def record(self, line):
        with self.lock:
            line["seq"] = len(self.lines)
            text = json.dumps(line, sort_keys=True)
            self.lines.append((line["path"], text))
            if self.log:
                self.log.write(text + "\n")
                self.log.flush()

    def control(self, cmd):
        with self.lock:
            if isinstance(cmd, list):
                self.script = list(cmd)
                return
            if not isinstance(cmd, dict):
                raise ValueError("a list or an object")
            path = cmd.get("path")
            if "responses" in cmd:
                if not isinstance(cmd["responses"], list):
                    raise ValueError("responses: a list")
                if path:
                    self.path_scripts[path] = list(cmd["responses"])
                else:
                    self.script = list(cmd["responses"])
            if "secrets" in cmd:
                if not isinstance(cmd["secrets"], list):
                    raise ValueError("secrets: a list")
                if path:
                    self.path_secrets[path] = list(cmd["secrets"])
                else:
                    self.secrets = list(cmd["secrets"])
            if cmd.get("clear_log"):
                self.lines = []

    def dump(self, path):
        with self.lock:
            return "".join(t + "\n" for p, t in self.lines if path is None or p == path)


STATE = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "facerec-e2e-receiver/1"

    def log_message(self, fmt, *args):   # quiet: the JSON log says it all
        pass

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    raise ValueError("body too large")
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n) if n else b""

    def answer(self, status, body=b"", ctype="text/plain", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        received = time.time()
        url = urlsplit(self.path)
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.answer(400, str(e).encode())
            return
        if url.path == "/_control":
            try:
                STATE.control(json.loads(body.decode() or "null"))
            except ValueError as e:
                self.answer(400, json.dumps({"ok": False, "error": str(e)}).encode(), "application/json")
                return
            self.answer(200, b'{"ok":true}', "application/json")
            return
        if url.path == "/_log":
            q = parse_qs(url.query)
            text = STATE.dump(q["path"][0] if "path" in q else None)
            self.answer(200, text.encode(), "application/x-ndjson")
            return
        self.delivery(url.path, body, received)

    def delivery(self, path, body, received):
        msg_id = self.headers.get("webhook-id") or ""
        ts_text = self.headers.get("webhook-timestamp") or ""
        sig_header = self.headers.get("webhook-signature") or ""
        try:
            ts = int(ts_text)
            ts_ok = abs(received - ts) <= TOLERANCE_S
        except ValueError:
            ts, ts_ok = None, False
        secrets = STATE.secrets_for(path)
        entries = check_signatures(secrets, msg_id, ts_text, body, sig_header)
        v1 = [e for e in entries if e["version"] == "v1"]
        verified = sorted({i for e in v1 for i in e["verified_by"]})
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        resp = STATE.next_response(path)
        status = int(resp.get("status", 200))
        line = {
            "received_at": received,
            "method": self.command,
            "path": path,
            "id": msg_id,
            "timestamp": ts,
            "timestamp_ok": ts_ok,
            "type": parsed.get("type") if isinstance(parsed, dict) else None,
            "signature_ok": ts_ok and any(e["verified_by"] for e in v1),
            "all_signatures_ok": bool(v1) and all(e["verified_by"] for e in v1),
            "signatures_count": len(v1),
            "verified_secrets": verified,
            "secrets_known": len(secrets),
            "entries": entries,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": parsed,
            "body_len": len(body),
            "answered": status,
        }
        if parsed is None:
            line["body_raw"] = body[:2000].decode("utf-8", "replace")
        STATE.record(line)
        delay = int(resp.get("delay_ms", 0))
        if delay > 0:
            time.sleep(delay / 1000.0)
        extra = {}
        if "location" in resp:
            extra["Location"] = str(resp["location"])
        if "retry_after" in resp:
            extra["Retry-After"] = str(resp["retry_after"])
        try:
            self.answer(status, str(resp.get("body", "status %d\n" % status)).encode(), extra=extra)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True   # the sender gave up (a timeout): nothing to say

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass   # a peer that hung up mid-request is not our failure


def main():
    global STATE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--secret", action="append", default=[])
    ap.add_argument("--secret2")
    ap.add_argument("--log")
    ap.add_argument("--selftest", action="store_true")
    args = ap.parse_args()
    if args.selftest:
        return selftest()
    secrets = list(args.secret) + ([args.secret2] if args.secret2 else [])
    STATE = State(secrets, args.log)
    httpd = Server((args.host, args.port), Handler)
    print(httpd.server_address[1], flush=True)

    def stop(signum, frame):
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        httpd.serve_forever(poll_interval=0.1)
    finally:
        httpd.server_close()
        if STATE.log:
            STATE.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
