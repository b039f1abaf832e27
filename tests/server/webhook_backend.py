#!/usr/bin/env python3
"""Webhook receiver for tst_gatewaywebhooks (standard library only).

Prints "port N" once listening, then one JSON line per request received, before answering:
{"n": <1-based count>, "path": ..., "headers": {lower-case name: value}, "body": <base64 of the raw body>}.

Modes: ok (200), slow (200 after --delay seconds), error (500), reject (400),
garbage (bytes that are not HTTP, then close). --fail-first N answers 500 to the first N requests.
--tls CERT KEY serves https with that certificate and key (backend_security.py).
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
parser.add_argument("--mode", choices=["ok", "slow", "error", "reject", "garbage"], default="ok")
parser.add_argument("--delay", type=float, default=1.0)
parser.add_argument("--fail-first", type=int, default=0)
backend_security.add_arguments(parser)
args = parser.parse_args()

lock = threading.Lock()
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count += 1
            n = count
            record = {"n": n, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                      "body": base64.b64encode(body).decode("ascii")}
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
        self.close_connection = True
        if args.mode == "garbage":
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            return
        if args.mode == "slow":
            time.sleep(args.delay)
        status = {"error": 500, "reject": 400}.get(args.mode, 200)
        if n <= args.fail_first:
            status = 500
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def log_message(self, *unused):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
backend_security.serve_tls(server, args)
print("port", server.server_address[1], flush=True)
server.serve_forever()
