#!/usr/bin/env python3
"""Connect proxy backend for tst_gatewayconnectproxy (standard library only).

Prints "port N" once listening, then one JSON line per request received, before answering:
{"n": <1-based count>, "path": ..., "headers": {lower-case name: value}, "body": <base64 of the raw body>}.

What it answers depends on the connect frame's data.mode (data.user names the user):
  accept     200 {"user": data.user, "info": {"name": upper-case user, "cookie": the forwarded
             cookie or null}, "channels": ["presence-lobby"]}
  anonymous  200 {"user": ""}
  deny       200 {"allow": false, "reason": "banned"}
  unauth     401 {"message": "bad cookie"}
  slow       like accept, after --delay seconds
  garbage    bytes that are not HTTP, then close
  notjson    200 with a text body that is not JSON
  nouser     200 {"info": {}} (no user)
  crash      500 {"message": "database down"}
A connect without data, or another mode: 401 {"message": "no session"}.

--tls CERT KEY serves https; --secret S answers 401 {"message": "bad signature"} to a request
whose signature does not verify (backend_security.py).
"""
import argparse
import base64
import http.server
import json
import sys
import threading
import time

import backend_security

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--delay", type=float, default=1.0)
backend_security.add_arguments(parser)
args = parser.parse_args()

lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count += 1
            record = {"n": count, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": base64.b64encode(body).decode("ascii")}
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
        self.close_connection = True
        if args.secret is not None:
            problem = backend_security.signature_problem(args.secret, self.headers, body)
            if problem:
                self.answer(401, {"message": problem})
                return
        try:
            request = json.loads(body)
            data = request.get("data") or {}
            mode = data.get("mode")
            user = data.get("user", "")
        except (ValueError, AttributeError):
            self.answer(400, {"message": "request is not {session, data, ...}"})
            return
        if mode == "garbage":
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            return
        if mode == "slow":
            time.sleep(args.delay)
        if mode in ("accept", "slow"):
            cookie = request.get("headers", {}).get("cookie")
            self.answer(200, {"user": user, "info": {"name": user.upper(), "cookie": cookie},
                              "channels": ["presence-lobby"]})
        elif mode == "anonymous":
            self.answer(200, {"user": ""})
        elif mode == "deny":
            self.answer(200, {"allow": False, "reason": "banned"})
        elif mode == "notjson":
            self.answer(200, b"hello, not json", "text/plain")
        elif mode == "nouser":
            self.answer(200, {"info": {}})
        elif mode == "crash":
            self.answer(500, {"message": "database down"})
        else:
            self.answer(401, {"message": "bad cookie" if mode == "unauth" else "no session"})

    def log_message(self, *unused):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
backend_security.serve_tls(server, args)
print("port", server.server_address[1], flush=True)
server.serve_forever()
