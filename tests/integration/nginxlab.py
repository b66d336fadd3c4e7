# SPDX-License-Identifier: Apache-2.0
"""nginx from deploy/nginx.conf in front of a test's daemon, for the tests
that show what the example does to real traffic (it-questions_nginx,
it-segments_nginx).

The example's HTTPS server is run as it is written, on a loopback port
without TLS (no certificate here), inside the smallest main
configuration that runs it as this user; a test may change one thing of
the example (and says why) through `edit`.
"""
import os
import re
import shutil
import subprocess

import harness
from harness import check

NGINX = "/usr/sbin/nginx"


def nginx_config(workdir, port, upstream_port, edit=None):
    """deploy/nginx.conf, its HTTPS server on 127.0.0.1:port without TLS;
    `edit` (text -> text) is applied to the example's text first."""
    with open(os.path.join(harness.REPO, "deploy", "nginx.conf")) as f:
        example = f.read()
    if edit is not None:
        example = edit(example)
    # The last server only redirects port 80 to HTTPS.
    example = example[:example.rindex("server {")]
    example = example.replace("listen 443 ssl http2;",
                              "listen 127.0.0.1:%d;" % port)
    example = re.sub(r"\n\s*ssl_certificate(_key)?\s[^;]*;", "", example)
    example = example.replace("server 127.0.0.1:8080;",
                              "server 127.0.0.1:%d;" % upstream_port)
    temp = os.path.join(workdir, "nginx-temp")
    os.makedirs(temp, exist_ok=True)
    return """
daemon off;
master_process off;
user root;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log info;
events { worker_connections 256; }
http {
    access_log %(w)s/nginx-access.log;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
%(example)s
}
""" % {"w": workdir, "t": temp, "example": example}


class Nginx:
    """nginx running the example in front of @upstream_port; `base` is its
    URL. close() stops it (by PID) and keeps its error log."""

    def __init__(self, workdir, upstream_port, edit=None):
        self.workdir = workdir
        self.port = harness.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(workdir, self.port, upstream_port, edit))
        self.log = os.path.join(workdir, "nginx-error.log")
        self.proc = subprocess.Popen([NGINX, "-p", workdir, "-e", self.log,
                                      "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        try:
            harness.wait_until(self._up, 10, "nginx in front of the relay")
        except BaseException:
            self.close()
            raise

    def _up(self):
        check(self.proc.poll() is None, "nginx exited: %s" % harness.tail(
            self.log))
        try:
            return harness.http("GET", self.base + "/healthz").status == 200
        except OSError:
            return False

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if os.path.exists(self.log):
            shutil.copy(self.log, os.path.join(self.workdir,
                                               "nginx-error.kept"))
