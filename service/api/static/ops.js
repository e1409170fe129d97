// The operations page: asks for an API key, then reads the service's JSON endpoints with it.
// Everything shown is built with textContent: no value from the server is parsed as HTML.
"use strict";

(function () {
  const KEY = "escalation.apiKey";
  const REFRESH_MS = 60000;
  const SVG = "http://www.w3.org/2000/svg";
  const byId = (id) => document.getElementById(id);
  let timer = null;

  class AuthError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  // -- building the page ------------------------------------------------------

  function el(tag, options, ...children) {
    const node = document.createElement(tag);
    const opts = options || {};
    if (opts.cls) node.className = opts.cls;
    if (opts.title) node.title = opts.title;
    if (opts.data) for (const [k, v] of Object.entries(opts.data)) node.dataset[k] = String(v);
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fill(tbody, rows, columns, empty) {
    tbody.replaceChildren();
    if (!rows.length) {
      tbody.append(el("tr", { cls: "empty" }, el("td", {}, empty)));
      tbody.lastChild.firstChild.colSpan = columns;
      return;
    }
    for (const row of rows) tbody.append(row);
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  // Times are shown in UTC, as the service stores them, so every reader sees the same.
  function when(iso, withDate = true) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    if (!withDate) return time;
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}`;
  }

  function shortRevision(revision) {
    if (!revision) return "—";
    const [algo, hash] = revision.includes(":") ? revision.split(":", 2) : ["", revision];
    return (algo ? algo + ":" : "") + hash.slice(0, 12);
  }

  function percent(rate) {
    return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)} %`;
  }

  // -- talking to the service -------------------------------------------------

  async function api(path) {
    const key = sessionStorage.getItem(KEY) || "";
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(response.status, (body && body.detail) || response.statusText);
    }
    if (!response.ok) {
      const detail = body && (body.detail || body.title);
      throw new Error(`${response.status} ${detail || response.statusText}`);
    }
    return body;
  }

  function showAuthError(error) {
    const message = byId("auth-message");
    message.textContent =
      error.status === 401
        ? `The key was not accepted (401 Unauthorized): ${error.message}. Enter a valid key.`
        : `This key may not read operations data (403 Forbidden): ${error.message}. ` +
          "It needs the scope decisions:read.";
    message.hidden = false;
    message.dataset.status = String(error.status);
  }

  // Load one section; an error shows in the section, an auth error above the page.
  async function section(id, load) {
    const box = byId(id);
    const error = box.querySelector(".error");
    box.classList.add("loading");
    try {
      await load();
      error.hidden = true;
      return true;
    } catch (e) {
      if (e instanceof AuthError) {
        showAuthError(e);
        refuse();
      } else {
        error.textContent = `Could not load: ${e.message}`;
        error.hidden = false;
      }
      return false;
    } finally {
      box.classList.remove("loading");
    }
  }

  // -- sections ---------------------------------------------------------------

  async function loadRules() {
    const [active, history] = await Promise.all([
      api("/v1/rules"),
      api("/v1/rules/revisions?limit=10"),
    ]);
    const revision = byId("active-revision");
    revision.textContent = active.revision;
    revision.title = active.revision;
    byId("active-loaded").textContent = when(active.loaded_at);
    byId("active-count").textContent =
      `${(active.rules || []).length} rules in ${(active.files || []).length} files`;
    const rows = (history.activations || []).map((a) =>
      el(
        "tr",
        { data: { revision: a.revision } },
        el("td", { cls: "nowrap" }, when(a.activated_at)),
        el("td", { cls: "id" }, el("code", { title: a.revision }, shortRevision(a.revision))),
        el("td", {}, a.action + (a.forced ? " (forced)" : "")),
        el("td", {}, a.activated_by),
      ),
    );
    fill(byId("revisions-rows"), rows, 4, "No activation recorded.");
  }

  function drawChart(stats) {
    const series = stats.series || [];
    const box = byId("rate-chart");
    const width = 900;
    const height = 180;
    const left = 34;
    const bottom = 22;
    const top = 8;
    const most = Math.max(1, ...series.map((b) => b.decisions));
    const slot = (width - left) / Math.max(1, series.length);
    const bar = Math.max(1, slot * 0.78);
    const scale = (n) => ((height - top - bottom) * n) / most;
    const chart = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `Decisions and escalations per ${stats.bucket} over the last ${stats.window}`,
      "data-decisions": stats.decisions,
      "data-escalations": stats.escalations,
      preserveAspectRatio: "none",
    });
    chart.classList.add("bars");
    for (const y of [0, most]) {
      const at = height - bottom - scale(y);
      chart.append(svg("line", { x1: left, x2: width, y1: at, y2: at, class: "grid" }));
      chart.append(svg("text", { x: left - 6, y: at + 4, class: "axis", "text-anchor": "end" }, y));
    }
    const daily = stats.bucket.endsWith("d");
    const every = Math.max(1, Math.ceil(series.length / 12));
    const manyDays = !daily && series.length > 48;
    series.forEach((b, i) => {
      const x = left + i * slot + (slot - bar) / 2;
      const group = svg("g", {
        class: "bucket",
        "data-start": b.start,
        "data-decisions": b.decisions,
        "data-escalations": b.escalations,
      });
      group.append(
        svg(
          "title",
          {},
          `${when(b.start)} UTC: ${b.decisions} decisions, ${b.escalations} escalated` +
            (b.rate === null ? "" : ` (${percent(b.rate)})`),
        ),
      );
      group.append(svg("rect", {
        x, width: bar, y: height - bottom - scale(b.decisions), height: scale(b.decisions),
        class: "decisions",
      }));
      group.append(svg("rect", {
        x, width: bar, y: height - bottom - scale(b.escalations), height: scale(b.escalations),
        class: "escalations",
      }));
      // Several days of hours are labelled at midnight with the date, a day with the hour.
      const start = new Date(b.start);
      const midnight = start.getUTCHours() === 0 && start.getUTCMinutes() === 0;
      if (manyDays ? midnight : i % every === 0) {
        const label = daily || manyDays ? when(b.start).slice(5, 10) : when(b.start, false);
        group.append(svg("text", { x: x + bar / 2, y: height - 6, class: "axis", "text-anchor": "middle" }, label));
      }
      chart.append(group);
    });
    box.replaceChildren(chart);
  }

  async function loadRate() {
    const [window, bucket] = byId("rate-window").value.split("/");
    const stats = await api(`/v1/stats/escalations?window=${window}&bucket=${bucket}`);
    const summary = byId("rate-summary");
    summary.replaceChildren(
      el("strong", { data: { count: stats.decisions } }, `${stats.decisions} decisions`),
      ", ",
      el("strong", { cls: "hot", data: { count: stats.escalations } }, `${stats.escalations} escalated`),
      ` in the last ${stats.window}: rate `,
      el("strong", { data: { rate: stats.rate === null ? "" : stats.rate } }, percent(stats.rate)),
    );
    drawChart(stats);
    const rows = (stats.by_rule || []).map((r) =>
      el(
        "tr",
        { data: { rule: r.rule } },
        el("td", {}, el("code", {}, r.rule)),
        el("td", { cls: "num" }, r.matched),
        el("td", { cls: "num" }, r.escalated),
        el(
          "td",
          {},
          el("span", { cls: "meter", title: percent(r.rate) }, el("span", { cls: "fill" })),
          " ",
          percent(r.rate),
        ),
      ),
    );
    rows.forEach((row, i) => {
      const rate = stats.by_rule[i].rate || 0;
      row.querySelector(".fill").style.width = `${Math.round(rate * 100)}%`;
    });
    fill(byId("rule-rows"), rows, 4, "No rule matched in this window.");
  }

  function outcomeBadge(outcome) {
    return el("span", { cls: `badge ${outcome}` }, outcome);
  }

  function targets(d) {
    const to = (d.escalations || []).map((e) => `${e.to}${e.status === "standing" ? " (standing)" : ""}`);
    const parts = [];
    if (to.length) parts.push(`escalate to ${to.join(", ")}`);
    if (d.route_to) parts.push(`route to ${d.route_to}`);
    return parts.length ? parts.join("; ") : "—";
  }

  function why(d) {
    const list = el("ul", { cls: "why" });
    for (const m of d.matched_rules || []) {
      // The rule and the reason the server gives (masked there unless the key may read text).
      list.append(el("li", { data: { rule: m.id } }, el("code", {}, m.id), m.why ? ` — ${m.why}` : ""));
    }
    if (!list.children.length) list.append(el("li", { cls: "muted" }, "no rule matched"));
    if (d.trigger === "timer" && d.timer) {
      list.append(el("li", { cls: "muted" }, `timer ${d.timer.id} ${d.timer.state}`));
    }
    return list;
  }

  function searchParams() {
    const params = new URLSearchParams({ limit: "25" });
    const caseId = byId("search-case").value.trim();
    const customerId = byId("search-customer").value.trim();
    if (caseId) params.set("case_id", caseId);
    if (customerId) params.set("customer_id", customerId);
    return params;
  }

  async function loadDecisions() {
    const params = searchParams();
    const page = await api(`/v1/decisions/latest?${params}`);
    const filters = [];
    if (params.get("case_id")) filters.push(`case ${params.get("case_id")}`);
    if (params.get("customer_id")) filters.push(`customer ${params.get("customer_id")}`);
    byId("decisions-caption").textContent =
      `${page.decisions.length} newest decisions` + (filters.length ? ` for ${filters.join(" and ")}` : "");
    const rows = page.decisions.map((d) =>
      el(
        "tr",
        { cls: `decision ${d.outcome}`, data: { case: d.case_id, outcome: d.outcome, decision: d.decision_id } },
        el("td", { cls: "nowrap" }, when(d.received_at)),
        el("td", { cls: "id", title: d.case_id }, el("code", {}, d.case_id)),
        el("td", { cls: "id", title: d.customer_id || "" }, d.customer_id ? el("code", {}, d.customer_id) : "—"),
        el("td", {}, outcomeBadge(d.outcome)),
        el("td", {}, targets(d)),
        el("td", {}, d.priority || "—"),
        el("td", {}, why(d)),
        el("td", { cls: "id" }, el("code", { title: d.rules_revision }, shortRevision(d.rules_revision))),
      ),
    );
    fill(byId("decision-rows"), rows, 8, "No decision found.");
  }

  async function loadTimers() {
    const within = byId("timers-within").value;
    const page = await api(`/v1/timers?due_within=${within}&limit=50`);
    const rows = page.timers.map((t) =>
      el(
        "tr",
        { cls: t.overdue ? "overdue" : "", data: { case: t.case_id, timer: t.timer_id } },
        el("td", { cls: "nowrap" }, when(t.due_at), t.overdue ? el("span", { cls: "badge escalate" }, "overdue") : null),
        el("td", { cls: "id", title: t.case_id }, el("code", {}, t.case_id)),
        el("td", {}, t.timer_id),
        el("td", {}, t.kind === "warning" && t.percent ? `warning at ${t.percent}%` : t.kind),
      ),
    );
    fill(byId("timer-rows"), rows, 4, `No timer due within ${within}.`);
    if (page.more) byId("timer-rows").append(el("tr", { cls: "empty" }, el("td", {}, "…and more")));
  }

  function lastAnswer(d) {
    const a = d.last_attempt;
    if (!a) return "—";
    return a.status_code !== null && a.status_code !== undefined ? `HTTP ${a.status_code}` : a.error || "—";
  }

  async function loadDeliveries() {
    const page = await api("/v1/webhook-deliveries?status=failing&limit=25");
    const rows = page.deliveries.map((d) =>
      el(
        "tr",
        { data: { delivery: d.delivery_id, status: d.status } },
        el("td", { cls: "nowrap" }, when(d.created_at)),
        el("td", { cls: "id" }, d.webhook_id ? el("code", {}, d.webhook_id) : "(deleted)"),
        el("td", { cls: "id" }, el("code", { title: d.decision_id }, d.decision_id.slice(0, 8))),
        el("td", {}, el("span", { cls: `badge ${d.status}` }, d.status)),
        el("td", { cls: "num" }, d.attempts),
        el("td", {}, lastAnswer(d)),
        el("td", { cls: "nowrap" }, d.next_attempt_at ? when(d.next_attempt_at) : "—"),
      ),
    );
    fill(byId("delivery-rows"), rows, 7, "No delivery failing.");
  }

  // -- the key and the refresh cycle -------------------------------------------

  async function refresh() {
    byId("auth-message").hidden = true;
    if (!sessionStorage.getItem(KEY)) return;
    const done = await Promise.all([
      section("rules", loadRules),
      section("rate", loadRate),
      section("decisions", loadDecisions),
      section("timers", loadTimers),
      section("deliveries", loadDeliveries),
    ]);
    if (!byId("auth-message").hidden) return;
    if (done.every(Boolean)) byId("updated").textContent = `Updated ${when(new Date().toISOString(), false)} UTC`;
    document.body.dataset.loaded = "yes";
  }

  // A refused key is of no use here: drop it, show no data, and ask for another.
  function refuse() {
    sessionStorage.removeItem(KEY);
    clearInterval(timer);
    showKeyState();
    byId("welcome").hidden = true;
    document.body.dataset.loaded = "refused";
  }

  function showKeyState() {
    const hasKey = Boolean(sessionStorage.getItem(KEY));
    byId("key-form").hidden = hasKey;
    byId("key-state").hidden = !hasKey;
    byId("welcome").hidden = hasKey;
    if (!hasKey) byId("dashboard").hidden = true;
    return hasKey;
  }

  function start() {
    if (!showKeyState()) return;
    byId("dashboard").hidden = false;
    refresh();
    clearInterval(timer);
    timer = setInterval(() => {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
  }

  byId("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = byId("api-key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    byId("api-key").value = "";
    start();
  });
  byId("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    clearInterval(timer);
    byId("auth-message").hidden = true;
    delete document.body.dataset.loaded;
    showKeyState();
  });
  byId("refresh").addEventListener("click", refresh);
  byId("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    section("decisions", loadDecisions);
  });
  byId("search-clear").addEventListener("click", () => {
    byId("search-case").value = "";
    byId("search-customer").value = "";
    section("decisions", loadDecisions);
  });
  byId("rate-window").addEventListener("change", () => section("rate", loadRate));
  byId("timers-within").addEventListener("change", () => section("timers", loadTimers));
  start();
})();
