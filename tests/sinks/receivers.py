"""Test receivers for the two SIEM protocols that have no installable server
here: Splunk's HTTP Event Collector and Elasticsearch's _bulk API.

Each enforces the published protocol and rejects anything else the way the
real server does:
- HEC (Splunk docs, "Format events for HTTP Event Collector" and the HEC
  status codes): POST /services/collector/event (or /services/collector),
  `Authorization: Splunk <token>` (401 code 2 when missing, 401 code 3 when
  malformed, 403 code 4 when unknown), a body of one or more JSON event
  objects back to back, each with an `event` member (400 code 12 when
  missing, 400 code 13 when blank, 400 code 6 with invalid-event-number for
  a body that is not JSON objects), optional `time` (epoch seconds, number),
  `host`, `source`, `sourcetype`, `index`, `fields`; success is 200
  {"text":"Success","code":0}; busy is 503 {"text":"Server is busy","code":9}.
- _bulk (Elasticsearch reference, "Bulk API"): POST /<index>/_bulk or /_bulk,
  Content-Type application/x-ndjson (406 otherwise), basic or ApiKey
  authorization when configured (401 with a security_exception otherwise),
  newline-delimited action/metadata lines each followed by a source line for
  index/create (400 illegal_argument_exception for a malformed body, which
  must end with a newline), `create` of an existing _id answers 409
  version_conflict_engine_exception for that item; the answer is 200
  {"took","errors","items":[{"create":{"_index","_id","status",...}}]}.

Both can be told to fail: answer 503 or 429, stall (never answer), reset the
connection, or (bulk) reject chosen items with 400 or 429. They run in a
thread of the test process; the test flips `mode` directly.
"""
import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a connection the test reset on purpose


class Receiver:
    """Common life cycle: start() binds 127.0.0.1 (port 0 or given), stop() closes it."""

    def __init__(self, port=0, tls_context=None):
        self.lock = threading.Lock()
        self.mode = "ok"          # ok | busy503 | busy429 | stall | reset | refuse (stopped) | ...
        self.requests = []        # (path, headers, body) of every request, in order
        self.protocol_errors = []  # what the client got wrong (a test fails on any)
        self.stall_release = threading.Event()
        self._port = port
        self._tls = tls_context
        self.server = None
        self.connections = set()

    @property
    def port(self):
        return self.server.server_address[1] if self.server else self._port

    def start(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                # One answer, one segment: no Nagle delay between headers and body (a real server does this).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with outer.lock:
                    outer.connections.add(self.connection)

            def finish(self):
                with outer.lock:
                    outer.connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                outer._handle(self)

            def do_GET(self):
                outer._reply(self, 405, {"text": "Method Not Allowed", "code": 405})

        self.server = _Server(("127.0.0.1", self._port), Handler)
        if self._tls is not None:
            self.server.socket = self._tls.wrap_socket(self.server.socket, server_side=True)
        self._port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Down: the port refuses connections (and open keep-alive connections die)."""
        if self.server:
            self.stall_release.set()
            self.server.shutdown()
            self.server.server_close()
            self.server = None
            with self.lock:
                live = list(self.connections)
            for c in live:  # keep-alive connections die with the server
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _reply(self, h, status, obj, extra_headers=()):
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _read_body(self, h):
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.protocol_errors.append("chunked body (tunneldoc sends Content-Length)")
            return None
        n = h.headers.get("Content-Length")
        if n is None:
            self.protocol_errors.append("no Content-Length")
            return None
        return h.rfile.read(int(n))

    def _misbehave(self, h):
        """Applies a failure mode; True when the request was answered (or dropped)."""
        mode = self.mode
        if mode == "stall":
            self.stall_release.wait(120)
            h.close_connection = True
            return True
        if mode == "reset":
            s = h.connection
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            h.close_connection = True
            return True
        return False


class HecReceiver(Receiver):
    def __init__(self, token, **kw):
        super().__init__(**kw)
        self.token = token
        self.events = []  # accepted event envelopes, in order
        # reject(envelope) -> True: answer 400 code 6 with its invalid-event-number,
        # keeping the events before it (Splunk indexes a body's events in order up to the bad one).
        self.reject = None

    def _handle(self, h):
        body = self._read_body(h)
        path = h.path.split("?", 1)[0]
        with self.lock:
            self.requests.append((h.path, dict(h.headers), body))
        if body is None:
            return self._reply(h, 400, {"text": "No data", "code": 5})
        if self._misbehave(h):
            return
        if path not in ("/services/collector/event", "/services/collector", "/services/collector/event/1.0"):
            self.protocol_errors.append("path " + h.path)
            return self._reply(h, 404, {"text": "The requested URL was not found on this server.", "code": 404})
        auth = h.headers.get("Authorization")
        if auth is None:
            return self._reply(h, 401, {"text": "Token is required", "code": 2})
        if not auth.startswith("Splunk "):
            self.protocol_errors.append("authorization " + auth)
            return self._reply(h, 401, {"text": "Invalid authorization", "code": 3})
        if auth[len("Splunk "):] != self.token:
            return self._reply(h, 403, {"text": "Invalid token", "code": 4})
        if self.mode == "busy503":
            return self._reply(h, 503, {"text": "Server is busy", "code": 9})
        if self.mode == "busy429":
            return self._reply(h, 429, {"text": "Too many requests", "code": 9})
        if not body.strip():
            return self._reply(h, 400, {"text": "No data", "code": 5})
        # Events back to back (whitespace between them allowed), as Splunk parses them.
        decoder = json.JSONDecoder()
        text = body.decode("utf-8", errors="strict") if self._utf8(body) else None
        if text is None:
            self.protocol_errors.append("body is not UTF-8")
            return self._reply(h, 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 0})
        pos, index, batch = 0, 0, []
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos == len(text):
                break
            try:
                obj, pos = decoder.raw_decode(text, pos)
            except ValueError:
                self.protocol_errors.append("event {} is not JSON".format(index))
                return self._reply(h, 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": index})
            if not isinstance(obj, dict):
                return self._reply(h, 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": index})
            if "event" not in obj:
                self.protocol_errors.append("event {} has no event member".format(index))
                return self._reply(h, 400, {"text": "Event field is required", "code": 12,
                                            "invalid-event-number": index})
            if obj["event"] in ("", None, {}):
                return self._reply(h, 400, {"text": "Event field cannot be blank", "code": 13,
                                            "invalid-event-number": index})
            if "time" in obj and not isinstance(obj["time"], (int, float)):
                self.protocol_errors.append("time is not a number: {!r}".format(obj["time"]))
                return self._reply(h, 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": index})
            for k in obj:
                if k not in ("time", "host", "source", "sourcetype", "index", "event", "fields"):
                    self.protocol_errors.append("unknown envelope member " + k)
            if self.reject is not None and self.reject(obj):
                with self.lock:
                    self.events.extend(batch)
                return self._reply(h, 400, {"text": "Invalid data format", "code": 6, "invalid-event-number": index})
            batch.append(obj)
            index += 1
        with self.lock:
            self.events.extend(batch)
        self._reply(h, 200, {"text": "Success", "code": 0})

    @staticmethod
    def _utf8(b):
        try:
            b.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False


class BulkReceiver(Receiver):
    """Elasticsearch _bulk. `auth` is ("basic", user, password) or ("apikey", encoded) or None.
    reject(doc) -> None | (status, error_type, reason) decides per item."""

    def __init__(self, index, auth=None, validate=None, **kw):
        super().__init__(**kw)
        self.index = index
        self.auth = auth
        self.validate = validate  # called with each source document; returns a problem or None
        self.docs = {}            # _id -> source, what was indexed
        self.order = []           # _ids in the order they were indexed
        self.reject = lambda doc: None
        self.item_requests = []   # per request, the _ids it carried

    def _error(self, h, status, etype, reason):
        return self._reply(h, status, {"error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype,
                                                 "reason": reason}, "status": status})

    def _handle(self, h):
        body = self._read_body(h)
        with self.lock:
            self.requests.append((h.path, dict(h.headers), body))
        if body is None:
            return self._error(h, 400, "parse_exception", "request body is required")
        if self._misbehave(h):
            return
        path = h.path.split("?", 1)[0]
        if path not in ("/_bulk", "/{}/_bulk".format(self.index)):
            self.protocol_errors.append("path " + h.path)
            return self._error(h, 404, "index_not_found_exception", "no such index")
        default_index = self.index if path != "/_bulk" else None
        if self.auth is not None:
            want = ("Basic " + base64.b64encode("{}:{}".format(self.auth[1], self.auth[2]).encode()).decode()
                    if self.auth[0] == "basic" else "ApiKey " + self.auth[1])
            if h.headers.get("Authorization") != want:
                return self._reply(h, 401, {"error": {"type": "security_exception",
                                                      "reason": "unable to authenticate user"}, "status": 401},
                                   [("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"')])
        ctype = h.headers.get("Content-Type", "").split(";")[0].strip()
        if ctype not in ("application/x-ndjson", "application/json"):
            self.protocol_errors.append("content type " + ctype)
            return self._error(h, 406, "content_type_header_exception",
                               "Content-Type header [{}] is not supported".format(ctype))
        if self.mode == "busy503":
            return self._error(h, 503, "unavailable_shards_exception", "primary shard is not active")
        if self.mode == "busy429":
            return self._error(h, 429, "es_rejected_execution_exception", "rejected execution of bulk")
        if not body.endswith(b"\n"):
            self.protocol_errors.append("body does not end with a newline")
            return self._error(h, 400, "illegal_argument_exception",
                               "The bulk request must be terminated by a newline [\\n]")
        lines = body.split(b"\n")[:-1]
        items, ids, i = [], [], 0
        start = time.time()
        while i < len(lines):
            try:
                action = json.loads(lines[i])
            except ValueError:
                self.protocol_errors.append("action line {} is not JSON".format(i))
                return self._error(h, 400, "x_content_parse_exception", "malformed action/metadata line")
            if not isinstance(action, dict) or len(action) != 1:
                return self._error(h, 400, "illegal_argument_exception", "Malformed action/metadata line")
            op, meta = next(iter(action.items()))
            if op != "create":
                self.protocol_errors.append("action {} (tunneldoc sends create)".format(op))
            if op not in ("create", "index", "update", "delete"):
                return self._error(h, 400, "illegal_argument_exception", "Unknown key for a START_OBJECT")
            index = meta.get("_index", default_index)
            if index is None:
                return self._error(h, 400, "action_request_validation_exception", "index is missing")
            _id = meta.get("_id")
            if _id is None:
                self.protocol_errors.append("create without _id")
            if i + 1 >= len(lines):
                return self._error(h, 400, "illegal_argument_exception", "source is missing")
            try:
                doc = json.loads(lines[i + 1])
            except ValueError as e:
                items.append({op: {"_index": index, "_id": _id, "status": 400, "error": {
                    "type": "mapper_parsing_exception", "reason": "failed to parse: " + str(e)}}})
                ids.append(_id)
                i += 2
                continue
            i += 2
            ids.append(_id)
            if self.validate is not None:
                problem = self.validate(doc)
                if problem:
                    self.protocol_errors.append("document {}: {}".format(_id, problem))
            rejection = self.reject(doc)
            with self.lock:
                if rejection is not None:
                    status, etype, reason = rejection
                    items.append({op: {"_index": index, "_id": _id, "status": status,
                                       "error": {"type": etype, "reason": reason}}})
                elif op == "create" and _id in self.docs:
                    items.append({op: {"_index": index, "_id": _id, "status": 409, "error": {
                        "type": "version_conflict_engine_exception",
                        "reason": "[{}]: version conflict, document already exists".format(_id)}}})
                else:
                    self.docs[_id] = doc
                    self.order.append(_id)
                    items.append({op: {"_index": index, "_id": _id, "_version": 1, "result": "created",
                                       "_shards": {"total": 1, "successful": 1, "failed": 0},
                                       "_seq_no": len(self.order) - 1, "_primary_term": 1, "status": 201}})
        with self.lock:
            self.item_requests.append(ids)
        if self.mode == "lose-answer":
            # Indexed, but the answer is lost on the way (a proxy timeout, a reset).
            s = h.connection
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
            h.close_connection = True
            return
        errors = any("error" in next(iter(it.values())) for it in items)
        self._reply(h, 200, {"took": int((time.time() - start) * 1000), "errors": errors, "items": items})
