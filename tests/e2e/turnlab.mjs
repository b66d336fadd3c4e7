// SPDX-License-Identifier: Apache-2.0
// What turnlab-run hands the browser tests it runs in the TURN lab
// (tests/integration/turnlab.py): the relay's HTTP base as the test and
// as the workplace reach it, the rooms, the coordinator token, and the
// API as the test calls it.

export const API = process.env.KK_TURNLAB_API;
export const VIEWER = process.env.KK_TURNLAB_VIEWER;
export const ROOM = process.env.KK_TURNLAB_ROOM;
export const HOST_ROOM = process.env.KK_TURNLAB_HOST_ROOM;
export const ADMIN = process.env.KRINGKAST_ADMIN_TOKEN;

// One request to the relay from the test's own namespace; the body as
// JSON when it is JSON, else as text.
export async function api(method, apiPath, body, token = ADMIN) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + apiPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let data = null;
  try { data = JSON.parse(text); } catch (e) { data = text; }
  return { status: response.status, data };
}
