/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for kk-stun: what the media port does with a datagram that
 * looks like STUN. Peek at the local ufrag, then have the check verified
 * and answered with fixed credentials (the seeds are requests signed with
 * them), from an IPv4 and an IPv6 source.
 */

#include "kringkast/kk-stun.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_UFRAG "fzuf"
#define REMOTE_UFRAG "peer"
#define LOCAL_PWD "fuzzfuzzfuzzfuzzfuzzfu"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char ufrag[KK_STUN_MAX_UFRAG];
  struct sockaddr_in from4 = { 0 };
  struct sockaddr_in6 from6 = { 0 };
  guint8 resp[512];
  KkStunCheck check;
  GError *error = NULL;
  gsize n;

  kk_stun_is_stun (data, size);
  if (kk_stun_peek_local_ufrag (data, size, ufrag, sizeof (ufrag)) &&
      strlen (ufrag) >= sizeof (ufrag))
    abort ();

  from4.sin_family = AF_INET;
  from4.sin_port = htons (5000);
  from4.sin_addr.s_addr = htonl (0x7f000001);
  n = kk_stun_answer_check (data, size, LOCAL_UFRAG, REMOTE_UFRAG, LOCAL_PWD,
      (struct sockaddr *) &from4, sizeof (from4), resp, sizeof (resp),
      &check, &error);
  if ((n == 0) != (error != NULL) || n > sizeof (resp))
    abort ();
  g_clear_error (&error);

  from6.sin6_family = AF_INET6;
  from6.sin6_port = htons (5001);
  from6.sin6_addr = in6addr_loopback;
  n = kk_stun_answer_check (data, size, LOCAL_UFRAG, NULL, LOCAL_PWD,
      (struct sockaddr *) &from6, sizeof (from6), resp, sizeof (resp),
      &check, &error);
  if ((n == 0) != (error != NULL) || n > sizeof (resp))
    abort ();
  g_clear_error (&error);
  return 0;
}
