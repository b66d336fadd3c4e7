/* SPDX-License-Identifier: Apache-2.0 */
/* Questions to the lecturer, for the three pages: the nurse's (ask, "me
 * too", the question being answered shown above the picture), the host's
 * and the coordinator's (the list, with who asked, and the buttons
 * "answering now", "answered", "hide").
 *
 * The list comes live over the relay's event stream (Server-Sent Events,
 * GET /api/rooms/{room}/questions/events), read with fetch() because
 * EventSource cannot send the Authorization header. The stream starts
 * with the whole list ("reset"); each change after it is one "question"
 * event carrying the question as it now is; a "removed" event names
 * questions gone with their asker's erasure. A stream that breaks, or
 * stays silent past two of the relay's heartbeats, is opened again with
 * the last event's id, and the relay sends the list as it now is (nothing
 * if nothing was missed). After ten failed attempts in a row each waits
 * longer than the one before (up to half a minute, spread so that a
 * room's pages do not come back all at once), and every one at least as
 * long as the relay's Retry-After.
 *
 * Every text from the relay goes in with textContent, never as HTML. */
"use strict";

const kkQuestionsT = kkTranslator({
  "q.heading": "Questions to the lecturer",
  "q.label": "Your question",
  "q.anonymous": "Ask without my name shown to others",
  "q.submit": "Ask",
  "q.none": "No questions yet.",
  "q.notlive": "Questions can be asked while the lecture is on.",
  "q.metoo": "Me too",
  "q.supported": "You support this",
  "q.supports": "{n} support this",
  "q.supports.one": "1 supports this",
  "q.yours": "Your question",
  "q.yours.screen": "From your screen",
  "q.anon": "Name not shown",
  "q.anon.host": "{name} (name not shown to others)",
  "q.answering": "Answering now",
  "q.answering.banner": "The lecturer is answering: {text}",
  "q.answered": "Answered",
  "q.hidden": "Hidden",
  "q.hide": "Hide",
  "q.show": "Show again",
  "q.count": "{n} of {max} characters",
  "q.sent": "Your question has been sent.",
  "q.error.long": "The question is too long (at most {max} characters).",
  "q.error.rate": "You have asked many questions in a short time. Wait a little.",
  "q.error.empty": "Write a question first.",
  "q.error.other": "The question could not be sent: {error}",
  "q.room": "Course",
  "q.live.none": "No broadcasts right now.",
}, {
  "q.heading": "Spørsmål til foreleseren",
  "q.label": "Ditt spørsmål",
  "q.anonymous": "Spør uten at navnet mitt vises for andre",
  "q.submit": "Spør",
  "q.none": "Ingen spørsmål ennå.",
  "q.notlive": "Spørsmål kan stilles mens forelesningen pågår.",
  "q.metoo": "Meg også",
  "q.supported": "Du støtter dette",
  "q.supports": "{n} støtter",
  "q.supports.one": "1 støtter",
  "q.yours": "Ditt spørsmål",
  "q.yours.screen": "Fra skjermen din",
  "q.anon": "Navn ikke vist",
  "q.anon.host": "{name} (navnet vises ikke for andre)",
  "q.answering": "Svarer nå",
  "q.answering.banner": "Foreleseren svarer på: {text}",
  "q.answered": "Besvart",
  "q.hidden": "Skjult",
  "q.hide": "Skjul",
  "q.show": "Vis igjen",
  "q.count": "{n} av {max} tegn",
  "q.sent": "Spørsmålet ditt er sendt.",
  "q.error.long": "Spørsmålet er for langt (høyst {max} tegn).",
  "q.error.rate": "Du har stilt mange spørsmål på kort tid. Vent litt.",
  "q.error.empty": "Skriv et spørsmål først.",
  "q.error.other": "Spørsmålet ble ikke sendt: {error}",
  "q.room": "Kurs",
  "q.live.none": "Ingen sendinger akkurat nå.",
});

/* The relay's cap (KK_QUESTION_MAX_CHARS); the page counts, the relay
 * decides (413). */
const kkQuestionMax = 600;

function kkQuestionsEl(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

class KkQuestionsPanel {
  /* room, token: whose questions, and the key to them; privileged: the
   * host or the coordinator (names and buttons), else a screen; panel:
   * the element the list goes in; answering: (screens) where the
   * question being answered is shown; onvisible: called once the panel
   * has something to show; heading: false where the page heads it;
   * receipt: the token is a check-in receipt (a person at a screen, on
   * their own phone): what the screen asked is theirs and colleagues'. */
  constructor({ room, token, privileged, panel, answering, onvisible, heading = true, receipt = false }) {
    Object.assign(this, { room, token, privileged, panel, answering, onvisible, heading, receipt });
    this.questions = new Map();
    this.sessionId = null;
    this.live = false;
    this.lastId = null;
    this.stopped = false;
    this.build();
    this.connect();
  }

  url(suffix) {
    return `/api/rooms/${encodeURIComponent(this.room)}/questions${suffix || ""}`;
  }

  build() {
    const t = kkQuestionsT;
    const id = `q-${Math.random().toString(36).slice(2, 8)}`;
    /* Not a live region: the list is drawn again on every change, and a
     * screen reader would read all of it each time. */
    this.list = kkQuestionsEl("ol", { class: "questions-list" });
    this.empty = kkQuestionsEl("p", { class: "status questions-empty" }, t("q.none"));
    const parts = this.heading ? [kkQuestionsEl("h2", { id: `${id}-heading` }, t("q.heading"))] : [];
    if (!this.privileged) {
      this.text = kkQuestionsEl("textarea", { id: `${id}-text`, rows: 3, class: "questions-text" });
      this.anonymous = kkQuestionsEl("input", { id: `${id}-anon`, type: "checkbox", class: "questions-anonymous" });
      this.count = kkQuestionsEl("span", { class: "hint questions-count", "aria-live": "polite" });
      this.result = kkQuestionsEl("p", { class: "status questions-result", role: "status" });
      this.submit = kkQuestionsEl("button", { type: "submit", class: "questions-submit" }, t("q.submit"));
      this.text.addEventListener("input", () => this.showCount());
      this.form = kkQuestionsEl("form", { class: "questions-form", onsubmit: (event) => this.ask(event) },
        kkQuestionsEl("label", { for: `${id}-text` }, t("q.label")), this.text, this.count,
        kkQuestionsEl("div", { class: "check" }, this.anonymous, kkQuestionsEl("label", { for: `${id}-anon` }, t("q.anonymous"))),
        kkQuestionsEl("p", {}, this.submit), this.result);
      parts.push(this.form);
      this.showCount();
    }
    parts.push(this.empty, this.list);
    if (this.heading) this.panel.setAttribute("aria-labelledby", `${id}-heading`);
    this.panel.replaceChildren(...parts);
    this.panel.hidden = false;
    this.onvisible?.();
    this.render();
  }

  showCount() {
    const n = [...this.text.value].length;
    this.count.textContent = kkQuestionsT("q.count", { n, max: kkQuestionMax });
    this.count.classList.toggle("error", n > kkQuestionMax);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.watchdog);
    this.abort?.abort();
    if (this.answering) this.answering.hidden = true;
  }

  /* ---- the stream ---- */

  async connect() {
    if (this.stopped) return;
    this.abort = new AbortController();
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" };
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    try {
      const response = await fetch(this.url("/events"), { headers, signal: this.abort.signal, cache: "no-store" });
      /* A token that no longer opens the room will not open it later. */
      if (response.status === 401 || response.status === 403 || response.status === 404) return;
      if (!response.ok) {
        const after = Number(response.headers.get("Retry-After"));
        if (after > 0) this.retryAfterMs = after * 1000;
        throw new Error(`HTTP ${response.status}`);
      }
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      this.keepWatch();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.keepWatch();
        buffer += value.replaceAll("\r\n", "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          this.dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      /* A network error, or the watchdog's abort: open it again. */
    }
    clearTimeout(this.watchdog);
    if (!this.stopped) this.retry = setTimeout(() => this.connect(), this.nextDelay());
  }

  /* About a second for the first ten attempts in a row that bring no
   * event (a short break is bridged at once), then doubling up to 30 s;
   * half of it random; never sooner than the relay asked. */
  nextDelay() {
    this.failures = this.gotEvents ? 0 : (this.failures ?? 0) + 1;
    this.gotEvents = false;
    const base = Math.min(1000 * 2 ** Math.max(0, this.failures - 10), 30000);
    const delay = Math.max(base / 2 + Math.random() * base / 2, this.retryAfterMs ?? 0);
    this.retryAfterMs = 0;
    return delay;
  }

  /* The relay sends at least a comment every 15 s: silence for longer
   * than two of them is a connection gone without a word (a network
   * that dropped, a proxy that forgot it). */
  keepWatch() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.abort?.abort(), 35000);
  }

  dispatch(block) {
    let name = "message";
    let data = "";
    let id = null;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") name = value;
      else if (field === "data") data += (data ? "\n" : "") + value;
      else if (field === "id") id = value;
    }
    if (!data) return;
    if (id !== null) this.lastId = id;
    let payload;
    try { payload = JSON.parse(data); } catch (error) { return; }
    this.gotEvents = true;
    if (name === "reset") {
      this.sessionId = payload.session_id;
      this.live = payload.live;
      this.questions = new Map(payload.questions.map((q) => [q.id, q]));
    } else if (name === "session") {
      if (payload.session_id !== this.sessionId) this.questions.clear();
      this.sessionId = payload.session_id;
      this.live = payload.live;
    } else if (name === "question") {
      this.merge(payload);
    } else if (name === "removed") {
      /* Their asker was erased on request: gone from every page now. */
      for (const id of payload.ids) this.questions.delete(id);
    }
    this.render();
  }

  merge(q) {
    if (q.session_id && q.session_id !== this.sessionId) {
      this.questions.clear();
      this.sessionId = q.session_id;
      this.live = true;
    }
    if (q.state === "hidden" && !this.privileged) {
      this.questions.delete(q.id);
      return;
    }
    /* Events say nothing of this screen's own support: keep what it knew. */
    const known = this.questions.get(q.id);
    if (known?.supported) q.supported = true;
    if (known && q.mine === undefined) q.mine = known.mine;
    this.questions.set(q.id, q);
  }

  /* ---- actions ---- */

  async ask(event) {
    event.preventDefault();
    const t = kkQuestionsT;
    const text = this.text.value.trim();
    if (!text) { this.result.textContent = t("q.error.empty"); return; }
    this.submit.disabled = true;
    try {
      const reply = await kkApi("POST", this.url(), this.token, { text, anonymous: this.anonymous.checked });
      if (reply.status === 201) {
        this.merge(reply.data);
        this.text.value = "";
        this.showCount();
        this.result.textContent = t("q.sent");
        this.render();
      } else {
        this.result.textContent = reply.status === 413 ? t("q.error.long", { max: kkQuestionMax })
          : reply.status === 429 ? t("q.error.rate") : reply.status === 409 ? t("q.notlive")
          : t("q.error.other", { error: reply.data?.error || `HTTP ${reply.status}` });
      }
    } catch (error) {
      this.result.textContent = t("q.error.other", { error: error.message });
    } finally {
      this.submit.disabled = false;
    }
  }

  async support(q) {
    const reply = await kkApi("POST", this.url(`/${encodeURIComponent(q.id)}/support`), this.token).catch(() => null);
    /* 409: this screen supported it already (in another tab, say). */
    if (reply?.ok || reply?.status === 409) {
      const now = reply.ok ? reply.data : this.questions.get(q.id);
      if (now) { now.supported = true; this.merge(now); }
      this.render();
    }
  }

  async setState(q, state) {
    const reply = await kkApi("PUT", this.url(`/${encodeURIComponent(q.id)}/state`), this.token, { state }).catch(() => null);
    if (reply?.ok) { this.merge(reply.data); this.render(); }
  }

  /* ---- drawing ---- */

  ordered() {
    return [...this.questions.values()].sort((a, b) => (b.supports - a.supports)
      || (Date.parse(a.asked_at) - Date.parse(b.asked_at)) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  render() {
    const t = kkQuestionsT;
    const questions = this.ordered();
    this.list.replaceChildren(...questions.map((q) => this.item(q)));
    this.empty.hidden = questions.length > 0;
    if (this.form) {
      this.submit.disabled = !this.live;
      this.text.disabled = !this.live;
      if (!this.live) this.result.textContent = t("q.notlive");
      else if (this.result.textContent === t("q.notlive")) this.result.textContent = "";
    }
    if (this.answering) {
      const now = this.live ? questions.find((q) => q.state === "answering") : null;
      this.answering.hidden = !now;
      this.answering.textContent = now ? t("q.answering.banner", { text: now.text }) : "";
    }
  }

  item(q) {
    const t = kkQuestionsT;
    const who = this.privileged
      ? (q.anonymous ? t("q.anon.host", { name: q.asker || "?" }) : q.asker)
      : (q.mine ? t(this.receipt ? "q.yours.screen" : "q.yours") : q.asker || t("q.anon"));
    const meta = [who, t(q.supports === 1 ? "q.supports.one" : "q.supports", { n: q.supports })];
    if (q.state !== "open") meta.push(t(`q.${q.state}`));
    const actions = kkQuestionsEl("div", { class: "questions-actions" });
    if (this.privileged) {
      if (q.state !== "answering") actions.append(this.button("answering", t("q.answering"), () => this.setState(q, "answering")));
      if (q.state !== "answered") actions.append(this.button("answered", t("q.answered"), () => this.setState(q, "answered"), true));
      actions.append(q.state === "hidden" ? this.button("open", t("q.show"), () => this.setState(q, "open"), true)
        : this.button("hidden", t("q.hide"), () => this.setState(q, "hidden"), true));
    } else if (!q.mine) {
      const button = this.button("support", q.supported ? t("q.supported") : t("q.metoo"), () => this.support(q), true);
      button.disabled = Boolean(q.supported) || !this.live;
      actions.append(button);
    }
    return kkQuestionsEl("li", { class: `questions-item state-${q.state}`, "data-question-id": q.id, "data-state": q.state },
      kkQuestionsEl("p", { class: "questions-item-text" }, q.text),
      kkQuestionsEl("p", { class: "hint questions-meta" },
        kkQuestionsEl("span", { class: "questions-asker" }, who), " · ",
        kkQuestionsEl("span", { class: "questions-supports", "data-supports": q.supports }, meta[1]),
        ...meta.slice(2).map((text) => [" · ", kkQuestionsEl("span", { class: "questions-state" }, text)]).flat()),
      actions);
  }

  button(action, label, onclick, secondary) {
    return kkQuestionsEl("button", { type: "button", class: secondary ? "secondary small" : "small", "data-action": action, onclick }, label);
  }
}

/* The coordinator as a co-host: the questions of one live course at a
 * time, chosen among those live now (the admin page's list of rooms). */
class KkQuestionsCoHost {
  constructor({ token, section }) {
    const t = kkQuestionsT;
    this.token = token;
    this.select = kkQuestionsEl("select", { id: "questions-room", class: "questions-room" });
    this.none = kkQuestionsEl("p", { class: "status" }, t("q.live.none"));
    this.panelEl = kkQuestionsEl("div", { class: "questions" });
    this.select.addEventListener("change", () => this.open(this.select.value));
    section.replaceChildren(kkQuestionsEl("h2", {}, t("q.heading")),
      kkQuestionsEl("label", { for: "questions-room" }, t("q.room")), this.select, this.none, this.panelEl);
    section.hidden = false;
    this.panel = null;
  }

  /* rooms: the relay's GET /api/rooms, as the admin page has it. */
  update(rooms) {
    const live = rooms.filter((room) => room.live);
    const ids = live.map((room) => room.id).join("\n");
    this.none.hidden = live.length > 0;
    this.select.hidden = live.length === 0;
    this.select.previousSibling.hidden = live.length === 0;
    if (ids !== this.ids) {
      this.ids = ids;
      const current = this.select.value;
      this.select.replaceChildren(...live.map((room) => kkQuestionsEl("option", { value: room.id }, room.title)));
      if (live.some((room) => room.id === current)) this.select.value = current;
    }
    const wanted = live.length ? this.select.value : null;
    if (wanted !== (this.panel?.room ?? null)) this.open(wanted);
  }

  open(room) {
    this.panel?.stop();
    this.panel = null;
    this.panelEl.replaceChildren();
    if (room) this.panel = new KkQuestionsPanel({ room, token: this.token, privileged: true, panel: this.panelEl, heading: false });
  }

  stop() { this.open(null); }
}
