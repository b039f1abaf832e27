#!/usr/bin/env python3
"""Application backend for tst_gatewaysubscribeproxy (standard library only).

Prints "port N" once listening, then one JSON line per request received, before answering:
{"n": <1-based count>, "path": ..., "headers": {lower-case name: value}, "body": <base64 of the raw body>}.

What it answers depends on a word in the channel name (private-WORD..., presence-WORD...):
  deny       200 {"allow": false, "message": "not in this team"}
  forbid     403 {"message": "members only"}
  unauth     401 with a text body
  slow       allow, after --delay seconds
  garbage    bytes that are not HTTP, then close
  notjson    200 with a text body that is not JSON
  noallow    200 {"note": "no decision"}
  crash      500 {"message": "database down"}
  renamed    allow as member "backend-<user>" with info {"badge": "renamed"}
anything else: 200 {"allow": true, "info": {"role": "moderator", "user": <user>, "auth": <auth>,
  "data": <data>, "client": <client>, "type": <type>}}.
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
backend_security.add_arguments(parser)  # --tls CERT KEY, --client-ca, --secret S (401 on a bad signature)
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
            channel = request["channel"]
        except (ValueError, KeyError, TypeError):
            self.answer(400, {"message": "request is not {channel, ...}"})
            return
        if "garbage" in channel:
            self.wfile.write(b"this is not HTTP at all\r\n\r\n")
            return
        if "slow" in channel:
            time.sleep(args.delay)
        if "deny" in channel:
            self.answer(200, {"allow": False, "message": "not in this team"})
        elif "forbid" in channel:
            self.answer(403, {"message": "members only"})
        elif "unauth" in channel:
            self.answer(401, b"who are you", "text/plain")
        elif "notjson" in channel:
            self.answer(200, b"hello, not json", "text/plain")
        elif "noallow" in channel:
            self.answer(200, {"note": "no decision"})
        elif "crash" in channel:
            self.answer(500, {"message": "database down"})
        elif "renamed" in channel:
            self.answer(200, {"allow": True, "user": "backend-" + str(request.get("user")), "info": {"badge": "renamed"}})
        else:
            info = {"role": "moderator"}
            info.update({k: request.get(k) for k in ("user", "auth", "data", "client", "type")})
            self.answer(200, {"allow": True, "info": info})

    def log_message(self, *unused):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
backend_security.serve_tls(server, args)
print("port", server.server_address[1], flush=True)
server.serve_forever()
