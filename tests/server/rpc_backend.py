#!/usr/bin/env python3
"""Application backend for tst_gatewayrpcproxy (standard library only).

Prints "port N" once listening, then one JSON line per request received, before answering:
{"n": <1-based count>, "path": ..., "headers": {lower-case name: value}, "body": <base64 of the raw body>}.

What it answers depends on the request's topic:
  echo       200 {"topic", "payload", "user", "session", "client", "info", "reply"} from the request
  slow       like echo, after --delay seconds
  notjson    200 with a text body that is not JSON
  garbage    bytes that are not HTTP, then close
  reject     422 {"message": "sku unknown", "trace": "validate.py:12"}
  crash      500 {"message": "database down"}
  plain503   503 with a text body
anything else: 404 {"message": "no such topic"}.

--tls CERT KEY serves https with that certificate and key (--client-ca FILE: and requires a client
certificate signed by FILE). --secret S checks the gateway's request signature first (the check
docs/gateway.md describes, backend_security.py) and answers 401 {"message": "bad signature"} or
{"message": "stale timestamp"} when it does not hold.
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
            topic = request["topic"]
        except (ValueError, KeyError, TypeError):
            self.answer(400, {"message": "request is not {topic, ...}"})
            return
        if topic == "garbage":
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            return
        if topic == "slow":
            time.sleep(args.delay)
        if topic in ("echo", "slow"):
            self.answer(200, {k: request.get(k) for k in ("topic", "payload", "user", "session", "client", "info", "reply")})
        elif topic == "notjson":
            self.answer(200, b"hello, not json", "text/plain")
        elif topic == "reject":
            self.answer(422, {"message": "sku unknown", "trace": "validate.py:12"})
        elif topic == "crash":
            self.answer(500, {"message": "database down"})
        elif topic == "plain503":
            self.answer(503, b"maintenance", "text/plain")
        else:
            self.answer(404, {"message": "no such topic"})

    def log_message(self, *unused):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
backend_security.serve_tls(server, args)
print("port", server.server_address[1], flush=True)
server.serve_forever()
