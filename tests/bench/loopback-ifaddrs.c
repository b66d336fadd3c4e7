/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD shim for the Janus benchmark: getifaddrs() with the loopback
 * flag cleared, so that Janus (which skips loopback interfaces when it
 * gathers ICE candidates) offers 127.0.0.1 and all media stays on
 * loopback. tests/bench/janus-vs-kringkast.py builds it with cc and runs
 * Janus with ice_enforce_list = "lo", so no other address is ever used.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

int
getifaddrs (struct ifaddrs **ifap)
{
  static int (*real) (struct ifaddrs **);
  struct ifaddrs *i;
  int result;

  if (real == NULL)
    real = (int (*) (struct ifaddrs **)) dlsym (RTLD_NEXT, "getifaddrs");
  if (real == NULL)
    return -1;
  result = real (ifap);
  if (result == 0)
    for (i = *ifap; i != NULL; i = i->ifa_next)
      i->ifa_flags &= ~IFF_LOOPBACK;
  return result;
}
