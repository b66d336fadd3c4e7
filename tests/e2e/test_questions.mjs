// SPDX-License-Identifier: Apache-2.0
// Questions to the lecturer, in the pages. Ola opens her page (Firefox,
// over WebDriver BiDi) before the lecture and cannot ask yet; the host's
// page (Chromium) goes live and her page lets her ask. Kari watches in
// Chromium through a TCP relay the test controls. Each asks a question,
// Kari's without her name shown to others; Ola supports Kari's. The
// host's page shows both within a second of being asked, Kari's first
// (more support), with both askers; Ola's page shows no name on Kari's.
// The host marks Ola's "answering now" and both nurses see it above the
// picture within a second. A question with markup shows as text (no
// element, no script run) and an over-long one is refused with the
// page's message. Then Kari's connection is cut for 5 s while the host
// moves on to her question and Ola asks another: when it is back, her
// page resumes the stream with Last-Event-ID and shows both. The
// coordinator's page lists the same questions as a co-host and can hide
// one, which the nurses' pages then drop. A colleague at Kari's screen
// checks in from her phone and asks from it in her own name. A third
// nurse, not watching,
// asks and is then erased on request: every open page drops his question
// within a second. When the host stops, the nurses' pages stop asking and
// show nothing being answered.
import fs from "node:fs";
import net from "node:net";
import { run, check, waitFor, log, sleep, checkPage, routeDefaultToLoopback, FIREFOX, ADMIN_TOKEN } from "./lib.mjs";

const ROOM = "spq";

// A TCP relay in front of the daemon for one browser: cut() drops every
// connection through it and refuses new ones until restore(). It notes
// whether a question stream was opened again with Last-Event-ID.
class Cut {
  constructor(target) {
    this.target = target;
    this.open = true;
    this.sockets = new Set();
    this.resumedWith = [];
    this.server = net.createServer((client) => {
      if (!this.open) { client.destroy(); return; }
      const upstream = net.connect(target, "127.0.0.1");
      this.sockets.add(client).add(upstream);
      // Every request on the connection, not only its first: Chromium may
      // send the stream's request on a connection it opened for another.
      client.on("data", (chunk) => {
        const text = chunk.toString("latin1");
        const resumed = /^GET [^ ]*\/questions\/events [\s\S]*?\r\nlast-event-id: ([^\r]+)/i.exec(text);
        if (resumed) this.resumedWith.push(resumed[1]);
      });
      client.pipe(upstream).pipe(client);
      const drop = () => { client.destroy(); upstream.destroy(); this.sockets.delete(client); this.sockets.delete(upstream); };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${this.server.address().port}`;
  }

  cut() {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore() { this.open = true; }

  close() {
    this.cut();
    this.server.close();
  }
}

// Set up in every page before its scripts run: when it sent each
// question (POST) and state change (PUT), and when each question's text
// and each "answering now" first showed in it, on the machine's clock
// (the pages share it), so that "within a second" is measured from the
// request to the screen, not through the test's own round trips.
function instrument() {
  window.kkTimes = { sent: {}, shown: {}, banner: {} };
  const fetch = window.fetch;
  window.fetch = (resource, init) => {
    if (init?.method === "POST" && /\/questions$/.test(String(resource)))
      window.kkTimes.sent[JSON.parse(init.body).text] ??= Date.now();
    if (init?.method === "PUT" && /\/state$/.test(String(resource)))
      window.kkTimes.sent[`${String(resource).split("/").at(-2)}:${JSON.parse(init.body).state}`] = Date.now();
    return fetch(resource, init);
  };
  new MutationObserver(() => {
    const times = window.kkTimes;
    for (const p of document.querySelectorAll(".questions-item-text")) times.shown[p.textContent] ??= Date.now();
    const banner = document.getElementById("answering-now");
    if (banner && !banner.hidden) times.banner[banner.textContent] ??= Date.now();
  }).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
}

const times = (page) => page.evaluate(() => window.kkTimes);

// Checks that what @from sent under @key showed in @to (as @shownKey of
// @kind) within a second, and logs how long it took.
async function checkWithinSecond(from, key, to, kind, shownKey, what) {
  const sent = (await times(from)).sent[key];
  const shown = (await times(to))[kind][shownKey];
  check(sent && shown, `${what}: sent ${sent}, shown ${shown}`);
  log(`${what}: ${shown - sent} ms`);
  check(shown - sent < 1000, `${what} took ${shown - sent} ms`);
}

const items = (page) => page.evaluate(() => [...document.querySelectorAll("#questions li[data-question-id], #questions-admin li[data-question-id]")]
  .map((li) => ({
    id: li.dataset.questionId, state: li.dataset.state,
    text: li.querySelector(".questions-item-text").textContent,
    asker: li.querySelector(".questions-asker").textContent,
    supports: Number(li.querySelector(".questions-supports").dataset.supports),
    html: li.querySelector(".questions-item-text").innerHTML,
  })));

// Milliseconds from now until @predicate holds in @page (polled in the
// page itself, every animation frame), or a failure after @limitMs.
async function within(page, predicate, arg, limitMs, what) {
  const started = Date.now();
  await page.waitForFunction(predicate, arg, { timeout: limitMs, polling: "raf" })
    .catch(() => { throw new Error(`${what}: not within ${limitMs} ms`); });
  const took = Date.now() - started;
  log(`${what}: ${took} ms`);
  return took;
}

const hasText = ({ text }) => [...document.querySelectorAll("#questions .questions-item-text, #questions-admin .questions-item-text")]
  .some((p) => p.textContent === text);
const answeringIs = ({ text }) => !document.getElementById("answering-now").hidden
  && document.getElementById("answering-now").textContent.includes(text);

async function ask(page, text, anonymous = false) {
  await page.fill("#questions textarea", text);
  if (anonymous) await page.check("#questions input[type=checkbox]");
  await page.click("#questions button[type=submit]");
}

await run("questions", async ({ daemon, browser, firefox, screenshot }) => {
  const room = await daemon.createRoom(ROOM, "Smertelindring hos barn");
  const ola = await daemon.join(ROOM, "Ola Nordmann", "Gjøvik helsestasjon");
  const kari = await daemon.join(ROOM, "Kari Hansen", "Hamar sykehjem");

  // Ola (in Firefox when it can play here, else in Chromium) opens her
  // page before the lecture: no asking yet.
  const useFirefox = fs.existsSync(FIREFOX) && routeDefaultToLoopback();
  if (!useFirefox) log("Firefox is not usable here: Ola's page runs in Chromium");
  const olaPage = (await (useFirefox ? firefox({ label: "ola" }) : browser({ label: "ola" }))).page;
  await olaPage.context().addInitScript(instrument);
  await olaPage.goto(`${daemon.base}/watch/${ROOM}#token=${ola.token}`);
  await waitFor(() => olaPage.locator("#questions .questions-result").textContent().then((s) => /mens forelesningen pågår/.test(s)),
    10000, "Ola's page: questions once the lecture is on");
  check(await olaPage.locator("#questions button[type=submit]").isDisabled(), "no asking before the lecture");

  const host = await browser({ label: "host" });
  await host.context.addInitScript(instrument);
  await host.page.goto(`${daemon.base}/host/${ROOM}#token=${room.host_token}`);
  await waitFor(() => host.page.locator("#start").isEnabled(), 20000, "the host's camera");
  await host.page.click("#start");
  await waitFor(async () => (await daemon.room(ROOM)).live, 20000, "the room to go live");

  const cut = new Cut(daemon.httpPort);
  const kariBase = await cut.listen();
  const kariPage = (await browser({ label: "kari" })).page;
  await kariPage.context().addInitScript(instrument);
  await kariPage.goto(`${kariBase}/watch/${ROOM}#token=${kari.token}`);
  for (const page of [olaPage, kariPage])
    await waitFor(() => page.locator("#questions button[type=submit]").isEnabled(), 15000, "the question form, live");

  // Two questions, each on the host's page within a second.
  const q1 = "Hvordan doserer vi paracetamol for barn under to år?";
  const q2 = "Gjelder det samme for barn med nyresvikt?";
  await ask(olaPage, q1);
  await waitFor(() => host.page.evaluate(hasText, { text: q1 }), 5000, "Ola's question on the host's page");
  await checkWithinSecond(olaPage, q1, host.page, "shown", q1, "Ola's question on the host's page");
  await ask(kariPage, q2, true);
  await waitFor(() => host.page.evaluate(hasText, { text: q2 }), 5000, "Kari's question on the host's page");
  await checkWithinSecond(kariPage, q2, host.page, "shown", q2, "Kari's anonymous question on the host's page");

  // Ola supports Kari's: it goes first on the host's page.
  await waitFor(() => olaPage.evaluate(hasText, { text: q2 }), 5000, "Kari's question on Ola's page");
  await olaPage.locator("#questions li", { hasText: q2 }).locator("button[data-action=support]").click();
  await within(host.page, ({ text }) => {
    const first = document.querySelector("#questions li[data-question-id]");
    return first && first.querySelector(".questions-item-text").textContent === text
      && first.querySelector(".questions-supports").dataset.supports === "1";
  }, { text: q2 }, 1000, "the supported question first on the host's page");
  const onHost = await items(host.page);
  check(onHost.length === 2 && onHost[0].text === q2 && onHost[1].text === q1, `host's order: ${JSON.stringify(onHost)}`);
  check(onHost[0].asker.includes("Kari Hansen"), `the host sees who asked anonymously: ${onHost[0].asker}`);
  check(onHost[1].asker === "Ola Nordmann", `the host sees Ola: ${onHost[1].asker}`);
  const onOla = await items(olaPage);
  const kariOnOla = onOla.find((q) => q.text === q2);
  check(kariOnOla && !kariOnOla.asker.includes("Kari"), `Ola sees no name on Kari's: ${kariOnOla?.asker}`);
  check(!(await olaPage.locator("#questions").textContent()).includes("Kari"), "Kari's name nowhere on Ola's page");
  check(await olaPage.locator("#questions li", { hasText: q2 }).locator("button[data-action=support]").isDisabled(),
    "Ola supports once");
  check((await items(kariPage)).find((q) => q.text === q2)?.asker === "Ditt spørsmål", "Kari sees her own as hers");

  // Answering now: both nurses within a second.
  const q1Item = host.page.locator("#questions li", { hasText: q1 });
  const q1Id = await q1Item.getAttribute("data-question-id");
  await q1Item.locator("button[data-action=answering]").click();
  for (const [name, page] of [["Ola", olaPage], ["Kari", kariPage]]) {
    await waitFor(() => page.evaluate(answeringIs, { text: q1 }), 5000, `answering now on ${name}'s page`);
    const banner = await page.locator("#answering-now").textContent();
    await checkWithinSecond(host.page, `${q1Id}:answering`, page, "banner", banner, `answering now on ${name}'s page`);
  }
  await screenshot(host.page, "host");
  await screenshot(olaPage, "ola");

  // Markup is text; an over-long question is refused.
  const markup = "<script>window.kkPwned = 1</script><b>fet</b> <img src=x onerror=window.kkPwned=2>";
  await ask(olaPage, markup);
  await waitFor(() => host.page.evaluate(hasText, { text: markup }), 5000, "the markup question on the host's page");
  await waitFor(() => kariPage.evaluate(hasText, { text: markup }), 5000, "the markup question on Kari's page");
  for (const page of [host.page, olaPage, kariPage]) {
    check(await page.evaluate(() => window.kkPwned === undefined), "no script ran");
    check(await page.locator("#questions b, #questions img, #questions li script").count() === 0, "no element made from it");
  }
  await ask(olaPage, "Lang ".repeat(150));
  await waitFor(() => olaPage.locator("#questions .questions-result").textContent().then((s) => /for langt/.test(s)),
    5000, "the page says the question is too long");
  check(!(await host.page.evaluate(hasText, { text: "Lang ".repeat(150).trim() })), "the long one was not stored");

  // Kari's page is cut off for 5 s; meanwhile the host moves on and Ola asks.
  const q3 = "Hva med ibuprofen?";
  cut.cut();
  const cutAt = Date.now();
  await host.page.locator("#questions li", { hasText: q2 }).locator("button[data-action=answering]").click();
  await ask(olaPage, q3);
  await waitFor(() => host.page.evaluate(hasText, { text: q3 }), 5000, "Ola's third question on the host's page");
  await sleep(Math.max(0, 5000 - (Date.now() - cutAt)));
  check(!(await kariPage.evaluate(hasText, { text: q3 })), "Kari's page was cut off");
  cut.restore();
  await within(kariPage, ({ q2, q3 }) => [...document.querySelectorAll("#questions .questions-item-text")].some((p) => p.textContent === q3)
    && document.getElementById("answering-now").textContent.includes(q2), { q2, q3 }, 10000,
    "Kari's page shows what came while it was cut off");
  check(cut.resumedWith.length > 0, "it resumed with Last-Event-ID");
  log(`resumed with Last-Event-ID ${cut.resumedWith.join(", ")}`);
  const onKari = await items(kariPage);
  check(onKari.find((q) => q.text === q1)?.state === "answered", `the question before is answered: ${JSON.stringify(onKari)}`);
  await screenshot(kariPage, "kari-after-cut");

  // The coordinator as a co-host hides the markup question.
  const admin = await browser({ label: "admin" });
  await admin.page.goto(`${daemon.base}/admin`);
  await admin.page.fill("#admin-token", ADMIN_TOKEN);
  await admin.page.press("#admin-token", "Enter");
  await waitFor(() => admin.page.evaluate(hasText, { text: markup }), 10000, "the questions on the coordinator's page");
  const onAdmin = await items(admin.page);
  check(onAdmin.length === 4 && onAdmin.some((q) => q.asker.includes("Kari Hansen")), `the coordinator's list: ${JSON.stringify(onAdmin)}`);
  await admin.page.locator("#questions-admin li", { hasText: "fet" }).locator("button[data-action=hidden]").click();
  await within(olaPage, ({ text }) => ![...document.querySelectorAll("#questions .questions-item-text")].some((p) => p.textContent === text),
    { text: markup }, 2000, "the hidden question gone from Ola's page");
  await waitFor(() => host.page.locator("#questions li[data-state=hidden]").count().then((n) => n === 1), 5000,
    "the host still sees it, hidden");
  await screenshot(admin.page, "admin");

  // Liv, a colleague at Kari's screen, checks in from her phone with the
  // screen's code and asks from there in her own name, without it shown
  // to others: the host sees her as the asker within a second, Ola sees
  // no name, and her phone shows the room's questions as the screen does.
  const code = await daemon.api("GET", `/api/rooms/${ROOM}/checkin-code`, undefined, kari.token);
  check(code.status === 200, `Kari's screen's check-in code: ${code.status}`);
  const phone = (await browser({ label: "phone", viewport: { width: 390, height: 844 } })).page;
  await phone.context().addInitScript(instrument);
  await phone.goto(`${daemon.base}/checkin/${ROOM}?code=${encodeURIComponent(code.data.code)}`);
  await phone.fill("#name", "Liv Telefon");
  await phone.fill("#workplace", "Hamar sykehjem");
  await phone.click("#submit");
  await waitFor(() => phone.evaluate(hasText, { text: q1 }), 10000, "the room's questions on Liv's phone after her check-in");
  const q5 = "Spørsmål fra telefonen: gjelder dette vikarer også?";
  await ask(phone, q5, true);
  await waitFor(() => host.page.evaluate(hasText, { text: q5 }), 5000, "Liv's question on the host's page");
  await checkWithinSecond(phone, q5, host.page, "shown", q5, "Liv's question from her phone on the host's page");
  const livOnHost = (await items(host.page)).find((q) => q.text === q5);
  check(livOnHost.asker.includes("Liv Telefon"), `the host sees Liv, not the screen's holder: ${livOnHost.asker}`);
  await waitFor(() => olaPage.evaluate(hasText, { text: q5 }), 5000, "Liv's question on Ola's page");
  check(!(await olaPage.locator("#questions").textContent()).includes("Liv"), "no name on Ola's page");
  const onPhone = await items(phone);
  check(onPhone.find((q) => q.text === q5)?.asker === "Fra skjermen din" && onPhone.find((q) => q.text === q2)?.asker === "Fra skjermen din",
    `the screen's questions are marked so on the phone: ${JSON.stringify(onPhone.map((q) => [q.text.slice(0, 20), q.asker]))}`);
  check(!onPhone.some((q) => q.asker.includes("Ola")) || onPhone.find((q) => q.text === q1).asker === "Ola Nordmann",
    "others' names as a screen sees them");
  await waitFor(() => phone.evaluate(answeringIs, { text: q2 }), 5000, "what is being answered on the phone");
  const phoneProblems = await checkPage(phone);
  check(phoneProblems.length === 0, `the phone's page: ${phoneProblems.join("; ")}`);
  await screenshot(phone, "phone");
  // The phone reloads the page (as phones do when one comes back to a
  // tab): she is still checked in, as the same person, and still asks.
  const peopleBefore = (await daemon.api("GET", `/api/rooms/${ROOM}/participants`)).data;
  await phone.reload();
  await waitFor(() => phone.evaluate(hasText, { text: q5 }), 10000, "the room's questions on Liv's phone after a reload");
  check(await phone.locator("#checkin").isHidden(), "no check-in form again after the reload");
  const q6 = "Liv igjen etter at siden ble lastet på nytt";
  await ask(phone, q6, true);
  await waitFor(() => host.page.evaluate(hasText, { text: q6 }), 5000, "Liv's question after the reload on the host's page");
  const peopleAfter = (await daemon.api("GET", `/api/rooms/${ROOM}/participants`)).data;
  check(JSON.stringify(peopleAfter) === JSON.stringify(peopleBefore),
    "the reload made no second person");

  // Per, at a screen of his own that is not watching now, asks; then he
  // is erased on request: his question goes from every open page within
  // a second, the host's and the coordinator's too, without a reload.
  const per = await daemon.join(ROOM, "Per Sletting", "Brumunddal legevakt");
  const q4 = "Et spørsmål fra en som ber om å bli slettet";
  const asked = await daemon.api("POST", `/api/rooms/${ROOM}/questions`, { text: q4 }, per.token);
  check(asked.status === 201, `Per asks: ${asked.status} ${JSON.stringify(asked.data)}`);
  const pages = [["the host's", host.page], ["Ola's", olaPage], ["Kari's", kariPage], ["the coordinator's", admin.page]];
  for (const [name, page] of pages) await waitFor(() => page.evaluate(hasText, { text: q4 }), 5000, `Per's question on ${name} page`);
  const erased = await daemon.api("DELETE", `/api/participants/${per.participant_id}`);
  check(erased.status === 200, `Per is erased: ${erased.status} ${JSON.stringify(erased.data)}`);
  for (const [name, page] of pages) {
    await within(page, ({ text }) => ![...document.querySelectorAll(".questions-item-text")].some((p) => p.textContent === text),
      { text: q4 }, 1000, `Per's question gone from ${name} page`);
    check(!(await page.locator("#questions, #questions-admin").first().textContent()).includes("Per Sletting"),
      `nothing of Per on ${name} page`);
  }

  for (const [name, page] of [["host", host.page], ["ola", olaPage], ["kari", kariPage], ["admin", admin.page]]) {
    const problems = await checkPage(page);
    check(problems.length === 0, `${name}'s page: ${problems.join("; ")}`);
  }

  // The lecture ends: no more asking, nothing being answered.
  await host.page.click("#stop");
  for (const [name, page] of [["Ola", olaPage], ["Kari", kariPage]]) {
    await waitFor(() => page.locator("#questions button[type=submit]").isDisabled(), 5000,
      `${name}'s page stops asking at the end`);
    check(await page.locator("#answering-now").isHidden(), `${name}'s page answers nothing after the end`);
  }
  cut.close();
});
