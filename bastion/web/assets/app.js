// The auditor page: plain JS, no build step, no framework. Served by bastiond
// under a CSP without inline scripts or eval. Every value from the audit store
// or a recording is inserted with textContent (never innerHTML): command text
// is attacker-controlled.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const LIVE_POLL_MS = 1000;  // a live recording's new bytes
  const LIVE_FACTS_MS = 2000;  // a live session's commands and decisions

  // --- DOM helpers -----------------------------------------------------------

  // el("td", {className: "x"}, "text", childNode): strings become text nodes.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "dataset") Object.assign(node.dataset, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const show = (id, on) => { $(id).hidden = !on; };
  const text = (v) => (v === null || v === undefined ? "" : String(v));
  const sessionLink = (id) => el("a", { href: "#session=" + encodeURIComponent(id), className: "session-link" }, id);

  function setStatus(msg) {
    $("status").textContent = msg;
    show("status", msg !== "");
  }

  // --- API -------------------------------------------------------------------

  class LoginRequired extends Error {}

  // Any 401 ends what the page shows: nothing read stays on screen.
  function loginRequired() {
    for (const id of ["list-view", "session-view", "logout"]) show(id, false);
    for (const body of document.querySelectorAll("tbody")) body.replaceChildren();
    $("recordings").replaceChildren();
    $("session-meta").replaceChildren();
    $("me").textContent = "";
    stopPlayers();
    setStatus("");
    show("login-needed", true);
  }

  async function api(path) {
    const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (r.status === 401) throw new LoginRequired();
    let body;
    try {
      body = await r.json();
    } catch (_e) {
      throw new Error(`${path}: HTTP ${r.status}, not JSON`);
    }
    if (!r.ok) throw new Error(text(body.error) || `${path}: HTTP ${r.status}`);
    return body;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
    const s = q.toString();
    return s ? "?" + s : "";
  }

  function fail(e) {
    if (e instanceof LoginRequired) return loginRequired();
    setStatus("Error: " + e.message);
  }

  // --- rendering of rows -------------------------------------------------------

  // How the review of a held command ended, and by whom.
  function approvalText(a) {
    if (!a) return "";
    const o = text(a.outcome);
    if (o === "approved" || o === "used") {
      return `approved by ${text(a.approved_by || a.decided_by)}` + (o === "used" ? " (used)" : "");
    }
    if (o === "denied") return `denied by ${text(a.decided_by)}` + (a.deny_reason ? `: ${a.deny_reason}` : "");
    return o;  // pending, expired, cancelled, revoked
  }

  function votesText(a) {
    return ((a && a.votes) || []).map((v) => `${text(v.approver)} ${text(v.decision)}${v.comment ? ": " + v.comment : ""}`).join("\n");
  }

  function exitText(row) {
    if (row.exit_signal) return "signal " + row.exit_signal;
    return text(row.exit_status);
  }

  function decisionCell(d) {
    return el("td", { className: "decision decision-" + text(d).replace(/[^a-z]/g, "") }, text(d));
  }

  function commandCells(c) {
    return [
      el("td", { className: "command" }, el("code", {}, text(c.text))),
      decisionCell(c.decision),
      el("td", { className: "reason" }, text(c.reason)),
      el("td", { className: "approval", title: votesText(c.approval) }, approvalText(c.approval)),
      el("td", { className: "exit" }, exitText(c)),
    ];
  }

  // --- list view -----------------------------------------------------------------

  function filterValues() {
    const f = new FormData($("filters"));
    const out = {};
    for (const k of ["since", "until", "identity", "target", "decision", "limit"]) out[k] = text(f.get(k)).trim();
    return out;
  }

  // Tables are emptied first: after a refused filter, old rows must not look
  // like its answer.
  async function loadSessions() {
    const body = $("sessions").tBodies[0];
    body.replaceChildren();
    setStatus("Loading sessions…");
    const { sessions } = await api("/api/sessions" + query(filterValues()));
    body.replaceChildren(...sessions.map((s) => el("tr", { dataset: { session: text(s.id) } },
      el("td", {}, text(s.started_at)),
      el("td", {}, s.live ? el("span", { className: "live" }, "live") : text(s.ended_at)),
      el("td", { className: "identity" }, text(s.identity)),
      el("td", { className: "target" }, text(s.target)),
      el("td", {}, text(s.source_address)),
      el("td", {}, text(s.end_reason)),
      el("td", {}, text(s.exit_status)),
      el("td", {}, text(s.commands)),
      el("td", {}, sessionLink(text(s.id))),
    )));
    setStatus(sessions.length ? "" : "No sessions match.");
  }

  async function searchCommands() {
    const f = new FormData($("command-search"));
    const params = filterValues();
    params.grep = text(f.get("grep")).trim();
    params.kind = text(f.get("kind")).trim();
    const body = $("commands").tBodies[0];
    body.replaceChildren();
    setStatus("Searching commands…");
    const { commands } = await api("/api/commands" + query(params));
    body.replaceChildren(...commands.map((c) => el("tr", {},
      el("td", {}, text(c.at)),
      el("td", { className: "identity" }, text(c.identity)),
      el("td", { className: "target" }, text(c.target)),
      el("td", {}, text(c.kind)),
      ...commandCells(c),
      el("td", {}, sessionLink(text(c.session_id))),
    )));
    show("commands", true);
    setStatus(commands.length ? "" : "No commands match.");
  }

  // --- players ---------------------------------------------------------------------

  let players = [];
  let generation = 0;  // bumped on each navigation: late loads of a left view are dropped

  function stopPlayers() {
    for (const p of players) {
      try { p.dispose(); } catch (_e) { /* already gone */ }
    }
    players = [];
  }

  function recordingUrl(sessionId, index) {
    return `/api/sessions/${encodeURIComponent(sessionId)}/recordings/${index}`;
  }

  // One event line, or null for anything else (a line cut short by a killed
  // session, a trailer): the player skips those too.
  function parseEvent(line) {
    if (line[0] !== "[") return null;
    try {
      const e = JSON.parse(line);
      return Array.isArray(e) && typeof e[0] === "number" && typeof e[1] === "string" ? e : null;
    } catch (_e) {
      return null;
    }
  }

  // asciicast v2: a JSON header line, then [time, code, data] lines. The
  // player gets the parsed events, so one damaged line does not hide the rest.
  function parseCast(castText) {
    const lines = castText.split("\n");
    const header = JSON.parse(lines[0]);
    const events = lines.slice(1).map(parseEvent).filter((e) => e !== null);
    const markers = events.filter((e) => e[1] === "m").map((e) => [e[0], text(e[2])]);
    return { header, events, markers };
  }

  function chapterList(onJump) {
    const list = el("ol", { className: "chapters" });
    return {
      node: list,
      add(time, label) {
        const i = list.children.length;
        const b = el("button", { type: "button", className: "chapter", title: `at ${time.toFixed(1)} s` }, label || `marker ${i + 1}`);
        b.addEventListener("click", () => onJump(i, time));
        list.append(el("li", {}, b));
      },
    };
  }

  // A finished recording: fetched once, markers listed as chapters and given
  // to the player's timeline (its own "m" events).
  async function mountRecording(sessionId, rec, box, gen) {
    const r = await fetch(recordingUrl(sessionId, rec.index), { credentials: "same-origin" });
    if (r.status === 401) throw new LoginRequired();
    if (!r.ok) throw new Error(`recording ${rec.index}: HTTP ${r.status}`);
    const castText = await r.text();
    if (gen !== generation) return;
    const { header, events, markers } = parseCast(castText);
    const playerBox = el("div", { className: "player" });
    let player;
    const chapters = chapterList((i) => player.seek({ marker: i }));
    for (const [t, label] of markers) chapters.add(t, label);
    const toEnd = el("button", { type: "button", className: "to-end" }, "Final screen");
    toEnd.addEventListener("click", () => player.seek("100%"));
    box.append(el("div", { className: "controls" }, toEnd), chapters.node, playerBox);
    player = AsciinemaPlayer.create({ data: [header, ...events] }, playerBox, { fit: "width", idleTimeLimit: 2, preload: true });
    players.push(player);
  }

  // A live recording: tailed with ?offset= and fed to the player as a custom
  // driver (a function source, as the player's own clock/eventsource drivers
  // are built): output appears as it is written, with no server push channel
  // beyond the documented recording route.
  function liveDriver(url, chapters, onState) {
    return ({ dispatch }) => {
      let offset = 0;
      let partial = "";
      let header = null;
      let timer;
      let stopped = false;
      let lastTime = 0;
      const decoder = new TextDecoder("utf-8");

      function feedLine(line) {
        if (header === null) {
          try {
            header = JSON.parse(line);
          } catch (_e) {
            stopped = true;
            throw new Error("not an asciicast recording");
          }
          dispatch("reset", { size: { cols: header.width || 80, rows: header.height || 24 } });
          dispatch("playing");
          return;
        }
        const e = parseEvent(line);
        if (!e) return;
        const [t, code, data] = e;
        lastTime = t;
        if (code === "o") dispatch("output", data);
        else if (code === "r") {
          const [cols, rows] = text(data).split("x").map((n) => Number.parseInt(n, 10));
          if (cols > 0 && rows > 0) dispatch("resize", { cols, rows });
        } else if (code === "m") chapters.add(t, text(data));
      }

      async function poll() {
        if (stopped) return;
        let live = true;
        let failed = false;
        try {
          const r = await fetch(`${url}?offset=${offset}`, { credentials: "same-origin" });
          if (r.status === 401) { stopped = true; loginRequired(); return; }
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          const bytes = await r.arrayBuffer();
          offset += bytes.byteLength;
          live = r.headers.get("X-Recording-Live") === "1";
          const lines = (partial + decoder.decode(bytes, { stream: live })).split("\n");
          partial = lines.pop();
          if (!live && partial !== "") lines.push(partial);  // the last line of a finished file
          for (const line of lines) if (line !== "") feedLine(line);
        } catch (e) {
          failed = true;  // shown, and tried again on the next tick unless the file is not a recording
          onState("error: " + e.message);
        }
        if (stopped) return;
        if (live) {
          if (!failed) onState("live");
          timer = setTimeout(poll, LIVE_POLL_MS);
        } else {
          onState("ended");
          dispatch("ended", { message: "Session ended" });
        }
      }

      return {
        play: () => { dispatch("play"); void poll(); return true; },
        stop: () => { stopped = true; clearTimeout(timer); },
        getCurrentTime: () => lastTime,
      };
    };
  }

  function mountLiveRecording(sessionId, rec, box) {
    const state = el("span", { className: "live-state" }, "connecting");
    const playerBox = el("div", { className: "player live-player" });
    const chapters = chapterList(() => {});  // a live view cannot seek; the list says what ran when
    box.append(el("div", { className: "controls" }, el("span", { className: "live" }, "live"), " ", state), chapters.node, playerBox);
    const player = AsciinemaPlayer.create(
      liveDriver(recordingUrl(sessionId, rec.index), chapters, (s) => { state.textContent = s; }),
      playerBox, { fit: "width", autoPlay: true });
    players.push(player);
  }

  // --- session view ------------------------------------------------------------------

  const META_FIELDS = [
    ["identity", "Identity"], ["principals", "Principals"], ["key_id", "Key ID"], ["cert_serial", "Certificate serial"],
    ["ca_fingerprint", "CA"], ["source_address", "From"], ["target", "Target"], ["started_at", "Started"],
    ["ended_at", "Ended"], ["end_reason", "End reason"], ["exit_status", "Exit status"],
    ["bytes_in", "Bytes in"], ["bytes_out", "Bytes out"],
  ];

  const isLive = (detail) => (detail.recordings || []).some((r) => r.live) || (detail.session || {}).live === true;

  // Metadata and commands; called again while the session is live.
  function showSessionFacts(detail, id) {
    const s = detail.session || {};
    $("session-id").textContent = text(s.id || id);
    show("session-live", isLive(detail));
    $("session-meta").replaceChildren(...META_FIELDS.filter(([k]) => s[k] !== undefined && s[k] !== null && s[k] !== "")
      .flatMap(([k, label]) => [el("dt", {}, label), el("dd", { dataset: { field: k } }, text(s[k]))]));
    $("session-commands").tBodies[0].replaceChildren(...(detail.commands || []).map((c) => el("tr", {},
      el("td", {}, text(c.at)),
      el("td", {}, text(c.channel)),
      el("td", {}, text(c.kind)),
      ...commandCells(c),
      el("td", { className: "recording" }, text(c.recording).split("/").pop()),
    )));
  }

  // While live, new commands and their decisions appear in the table too;
  // one last refresh after the end shows how it ended.
  function refreshWhileLive(id, gen) {
    setTimeout(async () => {
      if (gen !== generation) return;
      try {
        const detail = await api("/api/sessions/" + encodeURIComponent(id));
        if (gen !== generation) return;
        showSessionFacts(detail, id);
        if (isLive(detail)) refreshWhileLive(id, gen);
      } catch (e) {
        fail(e);
      }
    }, LIVE_FACTS_MS);
  }

  async function loadSession(id, gen) {
    setStatus("Loading session…");
    const detail = await api("/api/sessions/" + encodeURIComponent(id));
    if (gen !== generation) return;
    showSessionFacts(detail, id);
    if (isLive(detail)) refreshWhileLive(id, gen);
    const recs = $("recordings");
    recs.replaceChildren();
    setStatus("");
    for (const rec of detail.recordings || []) {
      const box = el("section", { className: "recording-box", dataset: { index: text(rec.index) } },
        el("h3", {}, `#${rec.index} channel ${text(rec.channel)} `, el("code", {}, text(rec.name)), rec.state ? ` (${rec.state})` : ""));
      if (gen !== generation) return;
      recs.append(box);
      if (rec.live) mountLiveRecording(id, rec, box);
      else await mountRecording(id, rec, box, gen).catch((e) => {
        if (e instanceof LoginRequired) throw e;
        box.append(el("p", { className: "error" }, e.message));
      });
    }
    if (!(detail.recordings || []).length) recs.append(el("p", {}, "No recordings."));
  }

  // --- routing ---------------------------------------------------------------------

  async function route() {
    const gen = ++generation;
    stopPlayers();
    const params = new URLSearchParams(location.hash.slice(1));
    const id = params.get("session");
    show("list-view", !id);
    show("session-view", !!id);
    try {
      if (id) await loadSession(id, gen);
      else await loadSessions();
    } catch (e) {
      fail(e);
    }
  }

  async function start() {
    let me;
    try {
      me = await api("/api/me");
    } catch (e) {
      return fail(e);
    }
    $("me").textContent = `${text(me.identity)} (until ${text(me.expires_at)})`;
    show("logout", true);
    $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadSessions().catch(fail); });
    $("command-search").addEventListener("submit", (ev) => { ev.preventDefault(); searchCommands().catch(fail); });
    $("logout").addEventListener("click", () => {
      fetch("/logout", { method: "POST", credentials: "same-origin" }).finally(loginRequired);
    });
    window.addEventListener("hashchange", route);
    await route();
  }

  start();
})();
