#!/usr/bin/env python3
"""Application backend for tst_gatewaysubscribeproxy (standard library only).

Served by backend_server.py: the "port N" line, one JSON line per request, --port, --delay,
--tls CERT KEY / --client-ca FILE and --secret S (backend_security.py; a request whose
signature does not verify is answered 401).

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
  expiring   allow for 3 seconds ("expiresIn": 3), unless the auth is "revoked" (allow false)
anything else: 200 {"allow": true, "info": {"role": "moderator", "user": <user>, "auth": <auth>,
  "data": <data>, "client": <client>, "type": <type>}}.
"""
import json
import time

import backend_server

args = backend_server.argument_parser().parse_args()


def handle(request):
    try:
        join = json.loads(request.body)
        channel = join["channel"]
    except (ValueError, KeyError, TypeError):
        request.answer(400, {"message": "request is not {channel, ...}"})
        return
    if "garbage" in channel:
        request.answer_garbage()
        return
    if "slow" in channel:
        time.sleep(args.delay)
    if "deny" in channel:
        request.answer(200, {"allow": False, "message": "not in this team"})
    elif "forbid" in channel:
        request.answer(403, {"message": "members only"})
    elif "unauth" in channel:
        request.answer(401, b"who are you", "text/plain")
    elif "notjson" in channel:
        request.answer(200, b"hello, not json", "text/plain")
    elif "noallow" in channel:
        request.answer(200, {"note": "no decision"})
    elif "crash" in channel:
        request.answer(500, {"message": "database down"})
    elif "expiring" in channel:
        if join.get("auth") == "revoked":
            request.answer(200, {"allow": False, "message": "access revoked"})
        else:
            request.answer(200, {"allow": True, "expiresIn": 3})
    elif "renamed" in channel:
        request.answer(200, {"allow": True, "user": "backend-" + str(join.get("user")), "info": {"badge": "renamed"}})
    else:
        info = {"role": "moderator"}
        info.update({k: join.get(k) for k in ("user", "auth", "data", "client", "type")})
        request.answer(200, {"allow": True, "info": info})


backend_server.serve(args, handle)
