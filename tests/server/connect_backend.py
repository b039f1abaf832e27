#!/usr/bin/env python3
"""Connect proxy backend for tst_gatewayconnectproxy (standard library only).

Served by backend_server.py: the "port N" line, one JSON line per request, --port, --delay,
--tls CERT KEY / --client-ca FILE and --secret S (backend_security.py; a request whose
signature does not verify is answered 401).

What it answers depends on the connect frame's data.mode (data.user names the user):
  accept     200 {"user": data.user, "info": {"name": upper-case user, "cookie": the forwarded
             cookie or null, "score": SCORE}, "channels": ["presence-lobby"]}
  anonymous  200 {"user": ""}
  deny       200 {"allow": false, "reason": "banned"}
  denylong   200 {"allow": false, "reason": LONG_REASON} (the gateway keeps 200 bytes of it)
  unauth     401 {"message": "bad cookie"}
  slow       like accept, after --delay seconds
  garbage    bytes that are not HTTP, then close
  notjson    200 with a text body that is not JSON
  nouser     200 {"info": {}} (no user)
  crash      500 {"message": "database down"}
A connect without data, or another mode: 401 {"message": "no session"}.
"""
import json
import time

import backend_server

# A double whose shortest text a JSON parser may read one unit in the last place off.
SCORE = 474.59380568556355

# 199 ASCII characters, then a two-byte character across the gateway's 200-byte cut.
LONG_REASON = "r" * 199 + "\u00e9 and more"

args = backend_server.argument_parser().parse_args()


def handle(request):
    try:
        connect = json.loads(request.body)
        data = connect.get("data") or {}
        mode = data.get("mode")
        user = data.get("user", "")
    except (ValueError, AttributeError):
        request.answer(400, {"message": "request is not {session, data, ...}"})
        return
    if mode == "garbage":
        request.answer_garbage()
        return
    if mode == "slow":
        time.sleep(args.delay)
    if mode in ("accept", "slow"):
        cookie = connect.get("headers", {}).get("cookie")
        request.answer(200, {"user": user, "info": {"name": user.upper(), "cookie": cookie, "score": SCORE},
                             "channels": ["presence-lobby"]})
    elif mode == "anonymous":
        request.answer(200, {"user": ""})
    elif mode == "deny":
        request.answer(200, {"allow": False, "reason": "banned"})
    elif mode == "denylong":
        request.answer(200, {"allow": False, "reason": LONG_REASON})
    elif mode == "notjson":
        request.answer(200, b"hello, not json", "text/plain")
    elif mode == "nouser":
        request.answer(200, {"info": {}})
    elif mode == "crash":
        request.answer(500, {"message": "database down"})
    else:
        request.answer(401, {"message": "bad cookie" if mode == "unauth" else "no session"})


backend_server.serve(args, handle)
