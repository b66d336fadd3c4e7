# SPDX-License-Identifier: Apache-2.0
"""A reader of the relay's question stream (Server-Sent Events) for the
integration tests: one stream, read on a thread into a queue of events
(comments counted), closed by the test."""
import http.client
import json
import queue
import socket
import threading
import time
import urllib.parse

from harness import check


class Stream:
    """One Server-Sent Events stream, read on a thread into a queue."""

    def __init__(self, base, room, token, last_event_id=None):
        """base: the daemon's URL (d.base_url), or a proxy's in front."""
        url = urllib.parse.urlsplit(base + "/api/rooms/%s/questions/events"
                                    % room)
        self.conn = http.client.HTTPConnection(url.hostname, url.port,
                                               timeout=30)
        headers = {"Authorization": "Bearer " + token}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", url.path, headers=headers)
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events = queue.Queue()
        self.last_id = None
        self.comments = 0
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        event = {"data": ""}
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if "event" in event:
                        event["data"] = json.loads(event["data"])
                        event["at"] = time.monotonic()
                        self.events.put(event)
                    event = {"data": ""}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        event["data"] += value
                    else:
                        event[name] = value
        except (OSError, ValueError, AttributeError):
            # Closed by the test (the response's file is gone).
            pass
        self.events.put(None)

    def next(self, timeout=5.0):
        ev = self.events.get(timeout=timeout)
        check(ev is not None, "the stream ended")
        if "id" in ev:
            self.last_id = ev["id"]
        return ev

    def ends_within(self, timeout):
        """Whether the server ends the stream within timeout seconds
        (the events before its end are passed over)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ev = self.events.get(
                    timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if ev is None:
                return True

    def close(self):
        # The reader thread holds the response's file: end its read first.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
