# SPDX-License-Identifier: Apache-2.0
"""A network lab for tests: named network namespaces joined by veth pairs.

A test describes the networks whose routes make its point (a viewer that
can reach nothing but a TURN server, a workplace behind a proxy) and runs
the daemon, servers and browsers inside them; no firewall rule is needed,
because a namespace without a route to an address cannot reach it.

    lab = netlab.Lab()
    relay, turn, viewer = lab.node("relay"), lab.node("turn"), lab.node("viewer")
    lab.link(relay, "10.30.1.1/24", turn, "10.30.1.2/24")
    lab.link(turn, "10.30.2.1/24", viewer, "10.30.2.2/24")
    lab.link(lab.here, "10.30.3.2/24", relay, "10.30.3.1/24")
    viewer.run(["ip", "route"])                # a command, inside
    argv = viewer.wrap(["chromium", ...])      # an argv to start there
    ...
    lab.close()                                # everything it made, gone

Each namespace is held open by a `sleep` process started with
`unshare --net`, and entered with `nsenter --net=/proc/PID/ns/net`; none is
named under /run/netns, so nothing outlives the lab: when its holder is
stopped (by PID, in close()), the namespace and its interfaces go. It must
run where namespaces may be made: as root, or inside
tests/integration/netns-run (root in a user namespace of its own). The
namespace the test runs in is `lab.here`; it can be one end of a link like
any other node. Forwarding is off in every new namespace, so a node with
two links does not route between them: a route through one must be asked
for with `forward=True`.

Only the standard library and iproute2/util-linux are used.
"""

import ipaddress
import os
import shutil
import signal
import subprocess


class LabError(Exception):
    """The lab could not be built here."""


def available():
    """Whether this process may make network namespaces (no side effects
    beyond a namespace that ends with the probe)."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None \
            or shutil.which("ip") is None:
        return False
    return subprocess.run(["unshare", "--net", "true"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


class Node:
    """One network namespace (or the test's own, for lab.here)."""

    def __init__(self, lab, name, holder=None):
        self.lab = lab
        self.name = name
        self.holder = holder            # the sleep process; None for here
        self.addresses = []             # "10.30.1.1" etc., in link order

    @property
    def pid(self):
        return self.holder.pid if self.holder is not None else os.getpid()

    def wrap(self, argv):
        """argv that runs @argv inside this namespace (as it is for here)."""
        if self.holder is None:
            return list(argv)
        return ["nsenter", "--net=/proc/%d/ns/net" % self.holder.pid,
                "--"] + list(argv)

    def run(self, argv, check=True, **kw):
        """Runs a command inside and waits; returns the CompletedProcess
        (stdout and stderr as text)."""
        r = subprocess.run(self.wrap(argv), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, **kw)
        if check and r.returncode != 0:
            raise LabError("%s: %s failed (%d): %s" % (
                self.name, " ".join(argv), r.returncode, r.stderr.strip()))
        return r

    def popen(self, argv, **kw):
        """Starts a process inside; the caller owns it (and stops it by
        PID)."""
        return subprocess.Popen(self.wrap(argv), **kw)

    def ip(self, *args):
        return self.run(["ip"] + list(args))

    def route(self, destination, via):
        """Adds a route to @destination (a prefix, or "default") via the
        address @via on one of this node's links."""
        self.ip("route", "add", destination, "via", via)

    def __repr__(self):
        return "<netlab node %s %s>" % (self.name, " ".join(self.addresses))


class Lab:
    """The namespaces and links of one test; close() removes them all."""

    def __init__(self):
        if not available():
            raise LabError("cannot make network namespaces here (run as "
                           "root or inside tests/integration/netns-run)")
        self.nodes = []
        self.here = Node(self, "here")
        self._links = 0
        self._interfaces_here = []

    def node(self, name, forward=False):
        """A new namespace with loopback up; @forward turns on IPv4
        forwarding, for a node that routes between its links."""
        holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"],
                                  stdin=subprocess.DEVNULL)
        node = Node(self, name, holder)
        self.nodes.append(node)
        # The namespace exists once the holder runs sleep: until then
        # /proc/PID/ns/net is still ours. Wait for the switch.
        own = os.stat("/proc/self/ns/net").st_ino
        for _ in range(200):
            try:
                if os.stat("/proc/%d/ns/net" % holder.pid).st_ino != own:
                    break
            except FileNotFoundError:
                raise LabError("unshare exited for node %s" % name)
            subprocess.run(["sleep", "0.01"])
        else:
            raise LabError("node %s: namespace not made" % name)
        node.ip("link", "set", "lo", "up")
        if forward:
            node.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        return node

    def link(self, a, a_address, b, b_address):
        """A veth pair between nodes @a and @b with the given addresses
        ("10.30.1.1/24"); each end is up, and each node gets the
        connected route of its prefix. Returns the two interface names."""
        self._links += 1
        ifa, ifb = "kkl%da" % self._links, "kkl%db" % self._links
        # Made in the test's own namespace, then each end moved to its node.
        subprocess.run(["ip", "link", "add", ifa, "type", "veth", "peer",
                        "name", ifb], check=True)
        for node, ifname, address in ((a, ifa, a_address),
                                      (b, ifb, b_address)):
            if node.holder is not None:
                subprocess.run(["ip", "link", "set", ifname, "netns",
                                str(node.holder.pid)], check=True)
            else:
                self._interfaces_here.append(ifname)
            # No IPv6 link-local address: the kernel would add one a second
            # or two after the link comes up, and a browser started meanwhile
            # would fail its loads with ERR_NETWORK_CHANGED.
            node.ip("link", "set", ifname, "addrgenmode", "none")
            node.ip("addr", "add", address, "dev", ifname)
            node.ip("link", "set", ifname, "up")
            node.addresses.append(str(ipaddress.ip_interface(address).ip))
        return ifa, ifb

    def close(self):
        """Stops every namespace's holder (by PID) and deletes the links
        left in the test's own namespace. Safe to call twice."""
        for ifname in self._interfaces_here:
            subprocess.run(["ip", "link", "del", ifname],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._interfaces_here = []
        for node in self.nodes:
            if node.holder.poll() is None:
                os.kill(node.holder.pid, signal.SIGTERM)
                node.holder.wait()
        self.nodes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
