"""etcd consistency under faults: record a history of v2 API operations, check it with porcupine.

``record_history`` runs concurrent clients, each bound to one member, doing reads
(``quorum=true``), writes and compare-and-swaps (``prevValue``) on a few keys,
and records every operation's invoke and return time (one monotonic clock) and
outcome. A write or CAS whose outcome the client could not learn (a timeout, a
connection lost after the request was sent, a 5xx) is marked *unknown*: it may
or may not have taken effect, and the checker treats it so.

``check`` hands the history to ``tools/linearizability``, a small Go program
driving the porcupine checker (github.com/anishathalye/porcupine) with a model
of independent registers, one per key. It is built once from the Go module
proxy and cached by the hash of its sources and the Go version.

The history's JSON form (one object per operation; what the Go program reads)::

    {"client": 0, "call": 1200, "return": 3400,            # ns, one monotonic clock
     "input":  {"op": "cas", "key": "k1", "expected": "0.3", "value": "0.4"},
     "output": {"ok": true, "value": null, "unknown": false, "failed": false},
     "endpoint": "http://172.31.94.11:2379", "error": "", "at": 1764077400.12}

``output.value`` is the value a read saw (null: the key was absent); ``ok`` false on a
cas means the compare failed; ``unknown`` means indeterminate (``return`` is then
ignored); ``failed`` means the request certainly had no effect (refused before it was
sent, or a read that got no answer) and the checker drops it. ``endpoint``, ``error``
and ``at`` (wall-clock seconds at the call, to line up with fault timelines) are
informative.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
import urllib3.exceptions

from wpcluster.core import gobuild
from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import PROJECT_ROOT

CHECKER_DIR = PROJECT_ROOT / "tools" / "linearizability"
KEY_ROOT = "wpcluster-linearizability"
OpKind = Literal["read", "write", "cas"]


class LinearizabilityError(WpclusterError):
    """The history could not be checked (no Go, a bad history, a checker that crashed)."""


@dataclass(frozen=True)
class Operation:
    """One client request against one key, as the client saw it."""

    client: int
    op: OpKind
    key: str
    call: int  # time.monotonic_ns() just before sending
    ret: int | None  # time.monotonic_ns() just after the answer; None when unknown
    value: str | None = None  # write and cas: the value written
    expected: str | None = None  # cas: prevValue
    ok: bool = True  # read: answered; write: acknowledged; cas: swapped (False: the compare failed)
    result: str | None = None  # read: the value seen, None when the key was absent
    unknown: bool = False  # write/cas with an indeterminate outcome
    failed: bool = False  # certainly had no effect (never sent; a read with no answer)
    endpoint: str = ""
    error: str = ""
    at: float = 0.0  # wall-clock seconds (time.time()) at the call

    def to_json(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"op": self.op, "key": self.key}
        if self.value is not None:
            spec["value"] = self.value
        if self.expected is not None:
            spec["expected"] = self.expected
        return {
            "client": self.client, "call": self.call, "return": self.ret, "input": spec,
            "output": {"ok": self.ok, "value": self.result, "unknown": self.unknown, "failed": self.failed},
            "endpoint": self.endpoint, "error": self.error, "at": self.at,
        }


@dataclass(frozen=True)
class Verdict:
    """What the checker said: ``result`` is "ok", "illegal" or "unknown" (the check timed out)."""

    result: str
    operations: int  # operations checked (failed ones are dropped)
    keys: int
    seconds: float  # time porcupine took
    indeterminate: int = 0
    dropped: int = 0
    visualization: Path | None = None
    raw: str = ""  # the checker's JSON line, as printed
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "ok"


# --- recording ---------------------------------------------------------------------------------------------

def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the server (the connection was never made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # NewConnectionError is one
    return False


def _describe(exc: requests.RequestException) -> str:
    """The exception's type and its innermost reason (urllib3 wraps it in MaxRetryError)."""
    reason: object = exc.args[0] if exc.args else exc
    if isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    return f"{type(exc).__name__}: {reason}"[:200]


def _error_code(reply: requests.Response) -> int | None:
    try:
        return int(reply.json().get("errorCode"))
    except (ValueError, TypeError, AttributeError):
        return None


def _base(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    return endpoint if "://" in endpoint else f"http://{endpoint}"


def record_history(endpoints: list[str], keys: int = 3, clients: int = 6, seconds: float = 10.0,
                   max_ops: int = 5000, *, prefix: str | None = None, request_timeout: float = 1.0,
                   quorum_reads: bool = True, seed: int | None = None, stop: threading.Event | None = None,
                   cleanup: bool = True) -> list[Operation]:
    """Run ``clients`` concurrent clients against etcd's v2 keys API and return what they saw.

    Client ``i`` talks only to ``endpoints[i % len(endpoints)]``. Each picks one of ``keys`` keys
    under a fresh prefix and reads it (``quorum=true``), writes a unique value, or compare-and-swaps
    from the value it last saw. The run stops by itself after ``seconds`` or ``max_ops`` requests
    (or when ``stop`` is set); a request in flight may overrun by up to twice ``request_timeout`` (connect, then read).
    """
    if not endpoints or keys < 1 or clients < 1:
        raise ValueError("record_history needs at least one endpoint, one key and one client")
    prefix = prefix or f"{KEY_ROOT}/{uuid.uuid4().hex[:12]}"
    names = [f"k{i}" for i in range(keys)]
    bases = [_base(e) for e in endpoints]
    history: list[Operation] = []
    lock = threading.Lock()
    budget = [max_ops]
    deadline = time.monotonic() + seconds
    halt = threading.Event()  # set when the run is over, whatever the caller does with ``stop``
    master = random.Random(seed)
    seeds = [master.randrange(2**32) for _ in range(clients)]

    def client(cid: int) -> None:
        base = bases[cid % len(bases)]
        rng = random.Random(seeds[cid])
        session = requests.Session()
        known: dict[str, str] = {}  # the last value this client saw per key
        seq = 0
        while not halt.is_set() and not (stop and stop.is_set()) and time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            key = rng.choice(names)
            url = f"{base}/v2/keys/{prefix}/{key}"
            roll = rng.random()
            kind: OpKind = "read" if roll < 0.4 or (roll >= 0.7 and key not in known) else (
                "write" if roll < 0.7 else "cas")
            seq += 1
            value = f"{cid}.{seq}"
            expected = known.get(key) if kind == "cas" else None
            op = dict(client=cid, op=kind, key=key, endpoint=base, at=time.time())
            call = time.monotonic_ns()
            try:
                if kind == "read":
                    params = {"quorum": "true"} if quorum_reads else {}
                    reply = session.get(url, params=params, timeout=request_timeout)
                elif kind == "write":
                    reply = session.put(url, data={"value": value}, timeout=request_timeout)
                else:
                    reply = session.put(url, data={"value": value}, params={"prevValue": expected},
                                        timeout=request_timeout)
            except requests.RequestException as exc:
                ret = time.monotonic_ns()
                error = _describe(exc)
                if kind == "read" or _never_sent(exc):
                    entry = Operation(**op, call=call, ret=ret, value=None if kind == "read" else value,
                                      expected=expected, ok=False, failed=True, error=error)
                    halt.wait(0.05)  # a member that is down refuses at once: do not spin
                else:
                    entry = Operation(**op, call=call, ret=None, value=value, expected=expected, ok=False,
                                      unknown=True, error=error)
                with lock:
                    history.append(entry)
                continue
            ret = time.monotonic_ns()
            status, code = reply.status_code, _error_code(reply) if reply.status_code >= 400 else None
            if kind == "read":
                if status == 200:
                    seen = reply.json()["node"].get("value")
                    entry = Operation(**op, call=call, ret=ret, result=seen)
                    if seen is not None:
                        known[key] = seen
                elif status == 404 and code == 100:
                    entry = Operation(**op, call=call, ret=ret, result=None)
                    known.pop(key, None)
                else:
                    entry = Operation(**op, call=call, ret=ret, ok=False, failed=True,
                                      error=f"HTTP {status} {reply.text[:160]}")
            elif status in (200, 201):
                entry = Operation(**op, call=call, ret=ret, value=value, expected=expected)
                known[key] = value
            elif kind == "cas" and (status, code) in ((412, 101), (404, 100)):
                entry = Operation(**op, call=call, ret=ret, value=value, expected=expected, ok=False,
                                  error=f"HTTP {status} errorCode {code}")
                known.pop(key, None)  # stale: read before the next cas on it
            else:
                # 5xx (no leader, a raft timeout) or anything unexpected: it may still be applied.
                entry = Operation(**op, call=call, ret=None, value=value, expected=expected, ok=False,
                                  unknown=True, error=f"HTTP {status} {reply.text[:160]}")
            with lock:
                history.append(entry)

    threads = [threading.Thread(target=client, args=(i,), daemon=True, name=f"lin-client-{i}")
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + request_timeout * 3 + 5)
    halt.set()
    if cleanup:
        _delete_prefix(bases, prefix, request_timeout)
    with lock:
        return sorted(history, key=lambda o: o.call)


def _delete_prefix(bases: list[str], prefix: str, timeout: float) -> None:
    for base in bases:  # best effort: any live member will do
        try:
            reply = requests.delete(f"{base}/v2/keys/{prefix}", params={"recursive": "true"}, timeout=timeout)
        except requests.RequestException:
            continue
        if reply.status_code < 500:
            return


def summary(history: Sequence[Operation]) -> dict[str, Any]:
    """Counts by kind and outcome, and the rate of operations that took effect or were observed."""
    if not history:
        return {"operations": 0}
    ends = [o.ret if o.ret is not None else o.call for o in history]
    span = (max(ends) - min(o.call for o in history)) / 1e9
    counted = [o for o in history if not o.failed]
    return {
        "operations": len(history),
        "reads": sum(o.op == "read" for o in history),
        "writes": sum(o.op == "write" for o in history),
        "cas": sum(o.op == "cas" for o in history),
        "cas_swapped": sum(o.op == "cas" and o.ok for o in history),
        "failed": sum(o.failed for o in history),
        "unknown": sum(o.unknown for o in history),
        "seconds": round(span, 2),
        "ops_per_second": round(len(counted) / span, 1) if span else 0.0,
    }


def history_json(history: Sequence[Operation | Mapping[str, Any]]) -> str:
    """The history in the checker's JSON form (see the module docstring)."""
    return json.dumps([o.to_json() if isinstance(o, Operation) else dict(o) for o in history])


# --- checking ----------------------------------------------------------------------------------------------

def _source_digest() -> str:
    h = hashlib.sha256()
    for path in [CHECKER_DIR / "go.mod", CHECKER_DIR / "go.sum", *sorted(CHECKER_DIR.glob("*.go"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def checker_program() -> gobuild.GoProgram:
    """The checker as a GoProgram; its sources' digest is stamped into it, so it is part of the cache key."""
    return gobuild.GoProgram(
        name="linearizability", module_dir=CHECKER_DIR, packages={"linearizability": "."},
        ldflags=f"-s -w -X main.sourceHash={_source_digest()}",
    )


def checker_binary(cache: Path | None = None) -> Path:
    """Build the checker once (cached under <cache>/linearizability/<hash>) and return its path."""
    if shutil.which("go") is None:
        raise LinearizabilityError(
            "the Go toolchain is missing: the linearizability checker (tools/linearizability, porcupine) "
            "is built from the Go module proxy",
            "install Go 1.21 or newer (https://go.dev/doc/install, or Debian's golang-go) and put it on PATH",
        )
    if cache is None:
        from wpcluster.core.build_cache import cache_dir

        cache = cache_dir()
    return gobuild.build(checker_program(), cache) / "linearizability"


def check(history: Sequence[Operation | Mapping[str, Any]], timeout_s: float = 60.0,
          visualization: Path | None = None) -> Verdict:
    """Check ``history`` for linearizability; a check that runs out of ``timeout_s`` gives "unknown".

    ``visualization``: where to write porcupine's HTML page of the history and its linearization.
    Raises LinearizabilityError when the history is malformed or the checker cannot run.
    """
    binary = checker_binary()
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="history-", delete=False) as f:
        f.write(history_json(history))
    args = [str(binary), "-timeout", f"{timeout_s}s"]
    if visualization is not None:
        visualization.parent.mkdir(parents=True, exist_ok=True)
        args += ["-visualize", str(visualization)]
    try:
        run = subprocess.run(args + [f.name], capture_output=True, text=True, timeout=timeout_s * 2 + 60)
    except subprocess.TimeoutExpired as exc:
        raise LinearizabilityError(f"the linearizability checker did not stop within {exc.timeout:.0f}s",
                                   "check a shorter history (fewer operations or keys)") from exc
    finally:
        os.unlink(f.name)
    line = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    try:
        out = json.loads(line)
    except json.JSONDecodeError:
        out = {}
    if run.returncode == 3 or out.get("result") == "error":
        raise LinearizabilityError(f"the linearizability checker refused the history: {out.get('error', line)}",
                                   "see the history format in wpcluster/checks/linearizability.py")
    if run.returncode not in (0, 1, 2) or out.get("result") not in ("ok", "illegal", "unknown"):
        raise LinearizabilityError(
            f"the linearizability checker failed (exit {run.returncode}): {(run.stderr or run.stdout)[-2000:]}")
    return Verdict(
        result=out["result"], operations=out["operations"], keys=out["keys"], seconds=out["seconds"],
        indeterminate=out.get("indeterminate", 0), dropped=out.get("dropped", 0),
        visualization=Path(out["visualization"]) if out.get("visualization") else None, raw=line, details=out,
    )
