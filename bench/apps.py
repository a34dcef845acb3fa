"""The two baselines callgate is measured against, served by the same gunicorn settings.

* ``hello``: a bare Flask view, the ceiling of this stack on this machine.
* ``naive``: the view a provider's documentation leads people to write: it calls the
  provider inside the request, so the visitor waits for the provider and every gunicorn
  thread is held for the provider's whole answer time.
"""

from __future__ import annotations

import os

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

hello = Flask("hello")


# POST too: the fixed-rate generator posts a callback's JSON body, which is not read.
@hello.route("/hello", methods=["GET", "POST"])
def say_hello() -> ResponseReturnValue:
    return "hello"


naive = Flask("naive")
_PROVIDER = os.environ.get("BENCH_PROVIDER_URL", "http://127.0.0.1:9")
_session = requests.Session()


@naive.post("/api/v1/callbacks")
def naive_callback() -> ResponseReturnValue:
    phone = str((request.get_json(silent=True) or {}).get("phone", ""))
    answer = _session.post(
        f"{_PROVIDER}/a/v2",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "Api\\V2\\Callback.external",
            "params": {"caller": phone.lstrip("+"), "callee": "1", "projectId": "1"},
        },
        headers={"Auth-key": "bench"},
        timeout=(3.05, 10),
    )
    return jsonify({"status": "placed" if answer.ok else "failed"}), 202
