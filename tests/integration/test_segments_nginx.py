#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The lecture over plain HTTPS through the nginx example
(deploy/nginx.conf), for a workplace whose screens share one address.

Ten players behind one address (all of them come to nginx from
127.0.0.1, as screens behind a workplace's proxy or NAT come from its
one address) each play the lecture's segments as the nurse's page does
today: the playlist every half second and each new segment once, for
twelve seconds. nginx must refuse none of them: the example gives the
segments a limit of their own, far above the API's 20 requests a second
per address, which ten such pages (~30 a second) would pass within
seconds (503). Each player gets every segment, in order.
"""
import os
import threading
import time

import harness
import nginxlab
from harness import check, check_eq, log
from common import pipeline_daemon, viewer_token

PLAYERS = 10
PLAY_S = 12
PLAYLIST = "/api/rooms/lecture/segments"


class Player(threading.Thread):
    """One page's requests: what it fetched and every status it got."""

    def __init__(self, base, token):
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.statuses = {}
        self.seqs = []
        self.requests = 0
        self.error = None

    def get(self, path):
        r = harness.http("GET", self.base + path, token=self.token)
        self.requests += 1
        self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
        return r

    def run(self):
        try:
            started = time.monotonic()
            while time.monotonic() - started < PLAY_S:
                r = self.get(PLAYLIST)
                if r.status == 200:
                    segments = r.json()["segments"]
                    # A page starts at the newest segment, then takes each
                    # new one once.
                    if not self.seqs and segments:
                        segments = segments[-1:]
                    for seg in segments:
                        if self.seqs and seg["seq"] <= self.seqs[-1]:
                            continue
                        if self.get(seg["url"]).status == 200:
                            self.seqs.append(seg["seq"])
                time.sleep(0.5)
        except Exception as e:  # reported by the test, not lost in a thread
            self.error = "%s: %s" % (type(e).__name__, e)


def test(ctx):
    if not os.path.exists(nginxlab.NGINX):
        raise harness.TestSkip("no %s (package nginx)" % nginxlab.NGINX)
    d = pipeline_daemon(ctx)
    tokens = [viewer_token(d, "lecture", name="Skjerm %d" % i)
              for i in range(PLAYERS)]
    proxy = nginxlab.Nginx(ctx.workdir, d.http_port)
    try:
        # The segments start with the first request for the playlist.
        harness.wait_until(
            lambda: harness.http("GET", proxy.base + PLAYLIST,
                                 token=tokens[0]).json()["segments"], 15,
            "the first segments", interval=0.5)
        players = [Player(proxy.base, token) for token in tokens]
        started = time.monotonic()
        for player in players:
            player.start()
        for player in players:
            player.join(PLAY_S + 30)
        elapsed = time.monotonic() - started
        total = sum(p.requests for p in players)
        log("%d players, %d requests in %.1f s (%.1f a second), statuses %s",
            PLAYERS, total, elapsed, total / elapsed,
            [p.statuses for p in players])
        check(total / elapsed > 20, "fewer requests than the API limit "
              "(%.1f a second): the test shows nothing", total / elapsed)
        for i, player in enumerate(players):
            check(player.error is None, "player %d: %s", i, player.error)
            check_eq(player.statuses, {200: player.requests},
                     "player %d: every request answered" % i)
            check(len(player.seqs) >= PLAY_S - 3, "player %d: %d segments",
                  i, len(player.seqs))
            check_eq(player.seqs, list(range(player.seqs[0],
                                             player.seqs[-1] + 1)),
                     "player %d: no segment missed" % i)
    finally:
        proxy.close()
    check_eq(d.stop(), 0, "daemon exit status")


harness.main(test, needs_peers=False)
