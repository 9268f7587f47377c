#include "proxy/dashboard.h"

namespace corral::proxy {

namespace {

// Rates are differences of counters between two polls; names and URLs are set as textContent, never as
// HTML, so nothing a configuration contains can inject markup.
constexpr std::string_view kDashboard = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>corral</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
  h1 { font-size: 1.4em; margin: 0 0 .8em; }
  h2 { font-size: 1.1em; margin: 1.5em 0 .5em; }
  .tiles { display: flex; gap: 1em; margin-bottom: 1.5em; }
  .tile { border: 1px solid #ccc; border-radius: 6px; padding: .6em 1em; min-width: 8em; }
  .tile b { display: block; font-size: 1.6em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35em .7em; border-bottom: 1px solid #e4e4e4; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .up { color: #1a7f37; } .down { color: #c62828; }
  #status { color: #666; margin-top: 1em; }
</style>
</head>
<body>
<h1>corral</h1>
<div class="tiles">
  <div class="tile">clients open<b id="clients_open">-</b></div>
  <div class="tile">accepted / s<b id="accept_rate">-</b></div>
  <div class="tile">refused / s<b id="refuse_rate">-</b></div>
  <div class="tile">Redis pools<b id="redis_pools">-</b></div>
  <div class="tile">reloads (failed)<b id="reloads">-</b></div>
</div>
<table>
  <thead><tr><th>listener</th><th>protocol</th><th>address</th><th>backend</th><th>ready</th>
    <th>clients open</th><th>accepted</th><th>accepted / s</th><th>refused</th><th>requests</th>
    <th>requests / s</th><th>failed logins</th></tr></thead>
  <tbody id="listeners"></tbody>
</table>
<h2>backend pools</h2>
<table>
  <thead><tr><th>backend</th><th>up</th><th>open</th><th>idle</th><th>in use</th><th>pinned</th>
    <th>connecting</th><th>waiters</th><th>requests / s</th><th>errors / s</th><th>pool timeouts</th></tr></thead>
  <tbody id="backends"></tbody>
</table>
<div id="status">loading…</div>
<script>
"use strict";
const POLL_MS = 2000;
let previous = null;
let readiness = {};

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  row.appendChild(td);
  return td;
}

function rate(now, before, seconds) {
  return seconds > 0 && before !== undefined ? ((now - before) / seconds).toFixed(1) : "-";
}

function render(stats, seconds) {
  const before = previous ? previous.stats : null;
  document.getElementById("clients_open").textContent = stats.clients_open;
  document.getElementById("accept_rate").textContent = before ? rate(stats.accepted, before.accepted, seconds) : "-";
  document.getElementById("refuse_rate").textContent = before ? rate(stats.refused, before.refused, seconds) : "-";
  document.getElementById("redis_pools").textContent = stats.redis_pools;
  document.getElementById("reloads").textContent = stats.reloads_ok + " (" + stats.reloads_failed + ")";
  const body = document.getElementById("listeners");
  body.replaceChildren();
  for (const l of stats.listeners) {
    const row = document.createElement("tr");
    row.dataset.listener = l.name;
    cell(row, l.name);
    cell(row, l.protocol);
    cell(row, l.address);
    cell(row, l.backend);
    const ready = readiness[l.name];
    const state = cell(row, ready === undefined ? "?" : ready.ready ? "ready" : "down: " + ready.reason);
    if (ready !== undefined) state.className = ready.ready ? "up" : "down";
    cell(row, l.clients_open, true);
    cell(row, l.accepted, true);
    const old = before ? before.listeners.find(x => x.name === l.name) : undefined;
    cell(row, old ? rate(l.accepted, old.accepted, seconds) : "-", true);
    cell(row, l.refused, true);
    cell(row, l.requests, true);
    cell(row, old ? rate(l.requests, old.requests, seconds) : "-", true);
    cell(row, l.logins_failed, true);
    body.appendChild(row);
  }
  renderBackends(stats, before, seconds);
}

// One row per backend server, every worker's pools summed (users, databases and schemas together).
function renderBackends(stats, before, seconds) {
  const body = document.getElementById("backends");
  body.replaceChildren();
  for (const b of stats.backends) {
    const row = document.createElement("tr");
    row.dataset.backend = b.backend;
    cell(row, b.backend);
    const up = cell(row, b.up === null ? "?" : b.up ? "up" : "down");
    if (b.up !== null) up.className = b.up ? "up" : "down";
    for (const field of ["open", "idle", "in_use", "pinned", "connecting", "waiters"]) cell(row, b[field], true);
    const old = before ? before.backends.find(x => x.backend === b.backend) : undefined;
    cell(row, old ? rate(b.requests, old.requests, seconds) : "-", true);
    cell(row, old ? rate(b.errors, old.errors, seconds) : "-", true);
    cell(row, b.pool_timeouts, true);
    body.appendChild(row);
  }
}

async function pollStats() {
  try {
    const response = await fetch("/stats.json", {cache: "no-store"});
    const stats = await response.json();
    const now = performance.now();
    render(stats, previous ? (now - previous.at) / 1000 : 0);
    previous = {stats, at: now};
    document.getElementById("status").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("status").textContent = "corral does not answer: " + e;
  }
}

async function pollReady() {
  try {
    const response = await fetch("/ready", {cache: "no-store"});
    const body = await response.json();
    readiness = {};
    for (const l of body.listeners) readiness[l.name] = l;
  } catch (e) {
    readiness = {};
  }
}

pollReady().then(pollStats);
setInterval(pollStats, POLL_MS);
setInterval(pollReady, 5 * POLL_MS);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view dashboard_html() { return kDashboard; }

}  // namespace corral::proxy
