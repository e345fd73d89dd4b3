// The sandbox page: pick a person, chat with the bot as them, inspect, move the clock.
// Plain JavaScript, no framework. Bot text is never parsed as HTML: messages are built
// from the text and its entities (Telegram's formatting) with DOM nodes and textContent.
"use strict";

const MOVE_LABELS = {
  reminders: "17:30 today (reminders)",
  next_workday: "Next workday",
  self_review: "Self-assessment day",
  review_due: "Supervisors' due day",
  publication: "Publication",
};
const SAFE_SCHEMES = ["http:", "https:", "tg:", "mailto:"];
const INSPECT_EVERY_MS = 4000;
const CLOCK_EVERY_MS = 5000;

// Send-to-reply times in ms, for the browser test and the chat footer.
window.sandboxLatencies = [];

let people = null; // the roster from /api/people, once the bot is ready
const panes = [];

// ------------------------------------------------------------------ helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return data;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok || !data.ok) throw new Error(data.error || response.statusText);
  return data.result;
}

function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return SAFE_SCHEMES.includes(parsed.protocol) ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

function fullName(user) {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

// Messages are dated by the bot's clock; shown in the organisation's time zone.
let zone = undefined;

function timeOf(seconds) {
  const moment = new Date(seconds * 1000);
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  try {
    return moment.toLocaleTimeString([], { ...options, timeZone: zone });
  } catch (error) {
    return moment.toLocaleTimeString([], options);
  }
}

// ----------------------------------------------------- Telegram formatting

// Entities (offsets in UTF-16 code units, like JavaScript strings) to DOM nodes.
function renderFormatted(text, entities, onCommand) {
  const fragment = document.createDocumentFragment();
  const sorted = (entities || [])
    .filter((e) => e.length > 0)
    .slice()
    .sort((a, b) => a.offset - b.offset || b.length - a.length);

  function build(parent, start, end, list) {
    let position = start;
    let i = 0;
    while (i < list.length) {
      const entity = list[i];
      const entityEnd = entity.offset + entity.length;
      if (entity.offset < position || entityEnd > end) {
        i += 1; // overlaps what is already drawn: Telegram nests, it does not overlap
        continue;
      }
      const inner = [];
      let j = i + 1;
      while (j < list.length && list[j].offset < entityEnd) {
        if (list[j].offset + list[j].length <= entityEnd) inner.push(list[j]);
        j += 1;
      }
      if (entity.offset > position) {
        parent.appendChild(document.createTextNode(text.slice(position, entity.offset)));
      }
      const content = text.slice(entity.offset, entityEnd);
      const made = nodeFor(entity, content, onCommand);
      const outer = made instanceof Node ? made : made.outer; // <pre> holds a <code>
      build(made instanceof Node ? made : made.inner, entity.offset, entityEnd, inner);
      parent.appendChild(outer);
      position = entityEnd;
      i = j;
    }
    if (position < end) parent.appendChild(document.createTextNode(text.slice(position, end)));
  }

  build(fragment, 0, text.length, sorted);
  return fragment;
}

function link(href) {
  const anchor = el("a");
  const safe = safeUrl(href);
  if (safe) {
    anchor.href = safe;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
  }
  return anchor;
}

function nodeFor(entity, content, onCommand) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": {
      const pre = el("pre");
      const code = el("code");
      pre.appendChild(code);
      return { outer: pre, inner: code };
    }
    case "blockquote":
    case "expandable_blockquote": return el("blockquote");
    case "spoiler": {
      const span = el("span", "spoiler");
      span.addEventListener("click", () => span.classList.add("shown"));
      return span;
    }
    case "text_link": return link(entity.url);
    case "url": return link(/^[a-z][a-z0-9+.-]*:/i.test(content) ? content : `https://${content}`);
    case "email": return link(`mailto:${content}`);
    case "bot_command": {
      const anchor = el("a", "command");
      anchor.addEventListener("click", (event) => {
        event.preventDefault();
        onCommand(content.split("@")[0]);
      });
      return anchor;
    }
    default: return el("span", entity.type);
  }
}

// ------------------------------------------------------------------ a chat

class Pane {
  constructor(index, userId) {
    this.index = index;
    this.root = el("div", "pane");
    document.getElementById("panes").appendChild(this.root);
    this.user = null;
    this.nodes = new Map(); // message_id -> element
    this.sentAt = null;
    this.inspectTimer = null;
    this.inspectSoon = null;
    if (userId) this.open(userId);
    else this.showPicker();
  }

  clear() {
    clearInterval(this.inspectTimer);
    this.inspectTimer = null;
    this.nodes.clear();
    this.root.replaceChildren();
  }

  // ---- picker

  showPicker() {
    this.clear();
    this.user = null;
    saveUrl();
    const view = document.getElementById("picker-template").content.cloneNode(true);
    const list = view.querySelector(".people");
    const filter = view.querySelector(".picker-filter");
    view.querySelector(".stranger").addEventListener("click", () => this.beStranger());
    this.root.appendChild(view);
    const draw = () => {
      list.replaceChildren();
      const words = filter.value.trim().toLowerCase();
      for (const person of people || []) {
        const haystack = [person.name, person.department, person.post, ...person.roles]
          .join(" ").toLowerCase();
        if (words && !haystack.includes(words)) continue;
        list.appendChild(this.personCard(person));
      }
      if (people === null) list.appendChild(el("li", "hint", "The bot is starting…"));
    };
    filter.addEventListener("input", draw);
    draw();
    this.redrawPicker = draw;
  }

  personCard(person) {
    const item = el("li", "person");
    item.dataset.userId = person.telegram_user_id || "";
    item.dataset.employeeNo = person.employee_no;
    item.appendChild(el("div", "person-name", person.name));
    const tags = el("div");
    for (const role of person.roles) tags.appendChild(el("span", "tag", role));
    if (person.on_leave) tags.appendChild(el("span", "tag leave", "on leave"));
    if (!person.joined || !person.user) tags.appendChild(el("span", "tag leave", "not joined"));
    item.appendChild(tags);
    const more = [person.department, person.post].filter(Boolean).join(" · ");
    item.appendChild(el("div", "person-more", more));
    if (person.supervisor) item.appendChild(el("div", "person-more", `supervisor: ${person.supervisor}`));
    if (person.user) item.addEventListener("click", () => this.open(person.user.id));
    else item.classList.add("unjoined");
    return item;
  }

  async beStranger() {
    try {
      const user = await post("/api/stranger", { language_code: "en" });
      this.open(user.id, user);
    } catch (error) {
      notice(`Could not make a stranger: ${error.message}`);
    }
  }

  // ---- chat

  open(userId, user) {
    this.clear();
    userId = Number(userId);
    const known = (people || []).find((p) => p.user && p.user.id === userId);
    this.person = known || null;
    this.user = user || (known && { ...known.user }) || (this.user && this.user.id === userId && this.user) || {
      id: userId, first_name: "Stranger", last_name: String(userId), language_code: "en",
    };
    const stored = localStorage.getItem(`sandbox-language-${userId}`);
    if (stored) this.user.language_code = stored;
    saveUrl();
    const view = document.getElementById("chat-template").content.cloneNode(true);
    this.root.appendChild(view);
    const q = (selector) => this.root.querySelector(selector);
    this.messages = q(".messages");
    this.menu = q(".menu");
    this.keyboard = q(".keyboard");
    this.toastBox = q(".toast");
    this.compose = q(".compose");
    this.inspector = q(".inspector");
    q(".chat-pane").dataset.userId = String(userId);
    const name = known ? known.name : fullName(this.user);
    q(".avatar").textContent = Array.from(name || "?")[0];
    q(".who-name").textContent = name;
    const details = known
      ? [known.roles.join(", "), known.department, known.on_leave ? "on leave" : ""]
      : ["a stranger: on no roster"];
    q(".who-more").textContent = details.filter(Boolean).join(" · ");
    const language = q(".lang");
    language.value = this.user.language_code || "en";
    language.addEventListener("change", () => {
      this.user.language_code = language.value;
      localStorage.setItem(`sandbox-language-${userId}`, language.value);
      this.reload();
    });
    q(".transcript-json").href = `/api/transcript/${userId}?format=json`;
    q(".transcript-text").href = `/api/transcript/${userId}?format=text`;
    q(".change").addEventListener("click", () => this.showPicker());
    q(".close").addEventListener("click", () => closePane(this));
    q(".close").hidden = panes.length < 2;
    // Side by side, the chats get the room; each inspector opens with its button.
    if (panes.length > 1 || this.index > 0) this.inspector.classList.add("hidden");
    q(".toggle-inspector").addEventListener("click", () => this.inspector.classList.toggle("hidden"));
    q(".menu-button").addEventListener("click", () => { this.menu.hidden = !this.menu.hidden; });
    q(".composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendText(this.compose.value);
    });
    this.compose.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.sendText(this.compose.value);
      }
    });
    this.wireFile(q(".attach-photo"), q(".photo-input"), true);
    this.wireFile(q(".attach-file"), q(".file-input"), false);
    this.reload();
    this.refreshInspector();
    this.inspectTimer = setInterval(() => this.refreshInspector(), INSPECT_EVERY_MS);
  }

  wireFile(button, input, photo) {
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      const content = await new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
        reader.onerror = () => reject(reader.error);
        reader.readAsDataURL(file);
      });
      this.sentAt = performance.now();
      try {
        await post("/api/send_file", {
          user: this.user, filename: file.name, mime_type: file.type || null,
          content, photo, caption: this.compose.value.trim() || null,
        });
        this.compose.value = "";
      } catch (error) {
        this.toast(`Not sent: ${error.message}`, true);
      }
    });
  }

  async reload() {
    if (!this.user) return;
    const userId = this.user.id;
    const lang = encodeURIComponent(this.user.language_code || "");
    let chat;
    try {
      chat = await getJSON(`/api/chat/${userId}?language_code=${lang}`);
    } catch (error) {
      return;
    }
    if (!this.user || this.user.id !== userId) return;
    for (const message of chat.messages) this.upsert(message, false);
    this.drawMenu(chat.commands);
    this.drawKeyboard(chat.keyboard);
  }

  async sendText(text) {
    if (!text.trim()) return;
    this.compose.value = "";
    this.menu.hidden = true;
    this.sentAt = performance.now();
    try {
      await post("/api/send", { user: this.user, text });
    } catch (error) {
      this.toast(`Not sent: ${error.message}`, true);
    }
  }

  async press(message, button) {
    this.sentAt = performance.now();
    try {
      await post("/api/press", {
        user: this.user, message_id: message.message_id, callback_data: button.callback_data,
      });
    } catch (error) {
      this.toast(`Not pressed: ${error.message}`, true);
    }
  }

  // A message added, edited or deleted: drawn in place.
  upsert(message, live) {
    const existing = this.nodes.get(message.message_id);
    if (message.deleted) {
      if (existing) existing.remove();
      this.nodes.delete(message.message_id);
      return;
    }
    // A reload brings every message again: only what changed is drawn anew.
    const signature = JSON.stringify([
      message.edit_count, message.text, message.caption, message.reply_markup,
    ]);
    if (existing && existing.dataset.signature === signature) return;
    const node = this.draw(message);
    node.dataset.signature = signature;
    if (existing) {
      existing.replaceWith(node);
    } else {
      const stick = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 80;
      const later = [...this.nodes.entries()].find(([id]) => id > message.message_id);
      if (later) this.messages.insertBefore(node, later[1]);
      else this.messages.appendChild(node);
      if (stick || !message.from_bot) this.messages.scrollTop = this.messages.scrollHeight;
      this.nodes = new Map([...this.nodes.entries(), [message.message_id, node]].sort((a, b) => a[0] - b[0]));
    }
    this.nodes.set(message.message_id, node);
    if (live && message.from_bot && this.sentAt !== null) {
      const started = this.sentAt;
      this.sentAt = null;
      requestAnimationFrame(() => {
        const elapsed = Math.round(performance.now() - started);
        window.sandboxLatencies.push(elapsed);
        this.root.querySelector(".latency").textContent = `reply visible ${elapsed} ms after sending`;
      });
    }
  }

  draw(message) {
    const node = el("div", `message ${message.from_bot ? "bot" : "user"}`);
    node.dataset.messageId = String(message.message_id);
    if (message.photo && message.photo.length) {
      const image = el("img", "photo");
      image.src = `/api/files/${encodeURIComponent(message.photo[message.photo.length - 1].file_id)}`;
      image.alt = "photo";
      node.appendChild(image);
    }
    if (message.document) {
      const anchor = el("a", "document", `📄 ${message.document.file_name || "file"} (${Math.ceil((message.document.file_size || 0) / 1024)} KB)`);
      anchor.href = `/api/files/${encodeURIComponent(message.document.file_id)}`;
      anchor.download = message.document.file_name || "file";
      node.appendChild(anchor);
    }
    const text = message.text !== null && message.text !== undefined ? message.text : message.caption;
    const entities = message.text !== null && message.text !== undefined ? message.entities : message.caption_entities;
    if (text) {
      const body = el("div", "body");
      body.appendChild(renderFormatted(text, entities, (command) => this.sendText(command)));
      node.appendChild(body);
    }
    const markup = message.reply_markup;
    if (markup && markup.inline_keyboard) {
      const keyboard = el("div", "inline-keyboard");
      for (const row of markup.inline_keyboard) {
        const line = el("div", "row");
        for (const button of row) line.appendChild(this.inlineButton(message, button));
        keyboard.appendChild(line);
      }
      node.appendChild(keyboard);
    }
    const meta = el("div", "meta", (message.edit_count ? "edited " : "") + timeOf(message.edit_date || message.date));
    try {
      meta.title = new Date(message.date * 1000).toLocaleString([], { timeZone: zone });
    } catch (error) {
      meta.title = new Date(message.date * 1000).toLocaleString();
    }
    node.appendChild(meta);
    return node;
  }

  inlineButton(message, button) {
    if (button.url) {
      const anchor = link(button.url);
      anchor.textContent = `${button.text} ↗`;
      return anchor;
    }
    const press = el("button", "inline", button.text);
    press.type = "button";
    if (button.callback_data !== undefined) {
      press.dataset.callbackData = button.callback_data;
      press.addEventListener("click", () => this.press(message, button));
    } else {
      press.disabled = true;
    }
    return press;
  }

  drawMenu(commands) {
    this.menu.replaceChildren();
    if (!commands || !commands.length) {
      this.menu.appendChild(el("div", "empty", "The bot published no menu for this person."));
      return;
    }
    for (const item of commands) {
      const line = el("div", "command");
      line.dataset.command = item.command;
      line.appendChild(el("b", "", `/${item.command}`));
      line.appendChild(el("span", "", item.description));
      line.addEventListener("click", () => this.sendText(`/${item.command}`));
      this.menu.appendChild(line);
    }
  }

  drawKeyboard(keyboard) {
    this.keyboard.replaceChildren();
    const rows = keyboard && keyboard.keyboard;
    this.keyboard.hidden = !rows || !rows.length;
    for (const row of rows || []) {
      const line = el("div", "row");
      for (const button of row) {
        const label = typeof button === "string" ? button : button.text;
        const press = el("button", "", label);
        press.type = "button";
        press.addEventListener("click", () => this.sendText(label));
        line.appendChild(press);
      }
      this.keyboard.appendChild(line);
    }
  }

  toast(text, alert) {
    this.toastBox.textContent = text;
    this.toastBox.classList.toggle("alert", Boolean(alert));
    this.toastBox.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { this.toastBox.hidden = true; }, alert ? 6000 : 2500);
  }

  // ---- live

  onMessage(message) {
    if (!this.user || message.chat_id !== this.user.id) return;
    this.upsert(message, true);
    if (message.from_bot) {
      // A reply may change the menu (a person just linked) or the reply keyboard.
      clearTimeout(this.reloadSoon);
      this.reloadSoon = setTimeout(() => this.reload(), 300);
    }
    clearTimeout(this.inspectSoon);
    this.inspectSoon = setTimeout(() => this.refreshInspector(), 300);
  }

  onAnswer(answer) {
    if (!this.user || answer.chat_id !== this.user.id || !answer.text) return;
    this.toast(answer.text, answer.show_alert);
  }

  // ---- inspector

  async refreshInspector() {
    if (!this.user || !this.inspector || document.hidden) return;
    const userId = this.user.id;
    let state;
    try {
      state = await getJSON(`/api/inspect/${userId}`);
    } catch (error) {
      return;
    }
    if (!this.user || this.user.id !== userId) return;
    const body = el("div", "inspector-body");
    this.root.querySelector(".inspector-now").textContent = state.now ? `as of ${state.now}` : "";
    body.appendChild(el("h4", "", "Record"));
    if (state.record) body.appendChild(definitionList(state.record));
    else body.appendChild(el("p", "hint", "Not on the roster: a stranger."));
    for (const [key, title] of [["entries", "Entries this month"], ["outbox", "Outbox"], ["audit", "Audit"]]) {
      const rows = state[key] || [];
      body.appendChild(el("h4", "", `${title} (${rows.length})`));
      if (rows.length) body.appendChild(table(rows));
      else body.appendChild(el("p", "hint", "none"));
    }
    this.root.querySelector(".inspector-body").replaceWith(body);
  }
}

const ISO_MOMENT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$/;
const LONG_COLUMNS = new Set(["text", "first_line", "summary", "detail", "details", "error"]);

function shown(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.map(shown).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  const moment = ISO_MOMENT.exec(String(value));
  if (moment) return `${moment[1]}-${moment[2]}-${moment[3]} ${moment[4]}:${moment[5]}`;
  return String(value);
}

function definitionList(record) {
  const list = el("dl");
  for (const [key, value] of Object.entries(record)) {
    list.appendChild(el("dt", "", key.replaceAll("_", " ")));
    list.appendChild(el("dd", "", shown(value)));
  }
  return list;
}

// Rows of JSON objects as a table; columns empty in every row are left out.
function table(rows) {
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))]
    .filter((key) => rows.some((row) => shown(row[key]) !== "—"));
  const wrap = el("div", "table-wrap");
  const grid = el("table");
  const head = el("tr");
  for (const key of keys) head.appendChild(el("th", "", key.replaceAll("_", " ")));
  grid.appendChild(head);
  for (const row of rows) {
    const line = el("tr");
    for (const key of keys) line.appendChild(el("td", LONG_COLUMNS.has(key) ? "long" : "", shown(row[key])));
    grid.appendChild(line);
  }
  wrap.appendChild(grid);
  return wrap;
}

// ------------------------------------------------------------------ the page

function saveUrl() {
  const params = new URLSearchParams();
  for (const pane of panes) if (pane.user) params.append("as", String(pane.user.id));
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

function addPane(userId) {
  const pane = new Pane(panes.length, userId);
  panes.push(pane);
  saveUrl();
  for (const other of panes) {
    const close = other.root.querySelector(".close");
    if (close) close.hidden = panes.length < 2;
    const inspector = other.root.querySelector(".inspector");
    if (inspector && panes.length > 1) inspector.classList.add("hidden");
  }
  return pane;
}

function closePane(pane) {
  const index = panes.indexOf(pane);
  if (index < 0 || panes.length < 2) return;
  pane.clear();
  pane.root.remove();
  panes.splice(index, 1);
  for (const other of panes) {
    const close = other.root.querySelector(".close");
    if (close) close.hidden = panes.length < 2;
  }
  saveUrl();
}

async function loadPeople() {
  for (;;) {
    try {
      people = (await getJSON("/api/people")).people;
      notice("");
      return;
    } catch (error) {
      if (error.status !== 503) {
        people = [];
        notice(`The roster could not be read: ${error.message}`);
        return;
      }
      notice(`Just a moment: ${error.message}…`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

// "2026-12-02T01:34:11.69+08:00" -> "2026-12-02 01:34" (the organisation's own time).
function wallTime(iso) {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(iso || ""));
  return match ? `${match[1]} ${match[2]}` : String(iso || "");
}

function drawClock(status) {
  const parts = [status.weekday, wallTime(status.now)].filter(Boolean);
  document.getElementById("clock-now").textContent = parts.join(" ");
  const more = [];
  if (status.zone) more.push(status.zone);
  if (status.workday === false) more.push("no workday");
  if (status.period) more.push(`period ${status.period}: ${String(status.stage || "").replaceAll("_", " ")}`);
  if (status.today_period && status.today_period !== status.period) {
    more.push(`this month ${status.today_period}: ${String(status.today_period_stage || "").replaceAll("_", " ")}`);
  }
  document.getElementById("clock-more").textContent = more.join(" · ");
  for (const button of document.querySelectorAll("#travel button.move")) {
    const target = status.moves && status.moves[button.dataset.move];
    button.title = target ? `Move the bot's clock to ${wallTime(target)}` : "";
  }
}

async function refreshClock() {
  try {
    drawClock(await getJSON("/api/clock"));
  } catch (error) {
    document.getElementById("clock-now").textContent = "clock: waiting for the bot";
  }
}

function drawTravel(moves) {
  const box = document.getElementById("travel");
  box.replaceChildren();
  for (const move of moves) {
    const button = el("button", "move", MOVE_LABELS[move] || move);
    button.type = "button";
    button.dataset.move = move;
    button.addEventListener("click", async () => {
      for (const other of box.querySelectorAll("button")) other.disabled = true;
      try {
        const result = await post("/api/clock", { move });
        drawClock(result.clock);
      } catch (error) {
        notice(`The clock did not move: ${error.message}`);
      } finally {
        for (const other of box.querySelectorAll("button")) other.disabled = false;
      }
    });
    box.appendChild(button);
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("hello", () => {
    document.body.dataset.live = "yes";
    for (const pane of panes) pane.reload(); // catch up with what happened while away
  });
  source.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    for (const pane of panes) pane.onMessage(message);
  });
  source.addEventListener("answer", (event) => {
    const answer = JSON.parse(event.data);
    for (const pane of panes) pane.onAnswer(answer);
  });
  source.addEventListener("clock", (event) => drawClock(JSON.parse(event.data)));
  source.onerror = () => { document.body.dataset.live = "no"; };
}

async function main() {
  const status = await getJSON("/api/status");
  zone = status.zone || undefined;
  drawTravel(status.moves);
  const wanted = new URLSearchParams(window.location.search).getAll("as").filter((id) => /^\d+$/.test(id));
  listen();
  await loadPeople();
  if (wanted.length) for (const id of wanted.slice(0, 4)) addPane(id);
  else addPane(null);
  document.getElementById("add-pane").addEventListener("click", () => addPane(null));
  refreshClock();
  setInterval(refreshClock, CLOCK_EVERY_MS);
  document.body.dataset.ready = "yes";
}

main().catch((error) => notice(`The sandbox did not load: ${error.message}`));
