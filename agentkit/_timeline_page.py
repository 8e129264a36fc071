"""The run page's stylesheet and script, inlined into every page (`_timeline_html.py`).

The script builds the page from the JSON in `#agentkit-data`. It only ever sets text
(`textContent`), so nothing from the model or the tools becomes markup, and it writes any error
into the page (`#agentkit-script-error`), where a test reading the DOM finds it.
"""

__all__ = ["CSS", "SCRIPT"]

CSS = r"""
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --request: #4f7dd9; --poll: #9aa7c7;
  --tool: #2da44e; --error: #cf222e; --bg: #ffffff; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { display: inline; font-size: 20px; margin: 0 12px 0 0; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h4 { margin: 10px 0 4px; font-size: 13px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
.muted { color: var(--muted); font-size: 12px; }
.facts { font-size: 15px; margin: 8px 0 2px; }
.status { padding: 2px 10px; border-radius: 12px; background: var(--soft); border: 1px solid var(--line); font-size: 12px; }
.status.completed { background: #dafbe1; border-color: #8fd8a0; }
.status.failed, .status.cancelled { background: #ffebe9; border-color: #f5a3a3; }
details > summary { cursor: pointer; list-style: none; }
details > summary::-webkit-details-marker { display: none; }
.gantt .row > summary { display: grid; grid-template-columns: 220px 1fr 90px; align-items: center;
  gap: 10px; padding: 3px 0; border-bottom: 1px dashed #eef0f2; }
.gantt .axis { display: grid; grid-template-columns: 220px 1fr 90px; gap: 10px; height: 18px;
  color: var(--muted); font-size: 11px; }
.ticks { position: relative; }
.tick { position: absolute; transform: translateX(-50%); white-space: nowrap; }
.tick:first-child { transform: none; }
.tick:last-child { transform: translateX(-100%); }
.gantt .row[open] > summary { background: var(--soft); }
.name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font: 12px ui-monospace, "DejaVu Sans Mono", monospace; }
.row[data-kind="tool"] .name { padding-left: 18px; }
.track { position: relative; height: 18px; background: repeating-linear-gradient(90deg, transparent 0 9.9%, #eef0f2 9.9% 10%); }
.bar { position: absolute; top: 2px; bottom: 2px; border-radius: 3px; min-width: 2px; overflow: hidden; }
.bar.request { background: var(--request); }
.bar.poll { background: var(--poll); }
.bar.tool { background: var(--tool); }
.bar.error { background: var(--error); }
.bar .wait { position: absolute; left: 0; top: 0; bottom: 0;
  background: repeating-linear-gradient(45deg, rgba(255,255,255,.55) 0 3px, transparent 3px 6px); }
.bar .mark { position: absolute; top: 0; bottom: 0; width: 3px; background: #ffb000; }
.time { text-align: right; color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.detail { padding: 8px 12px 12px 24px; background: var(--soft); border-left: 3px solid var(--line); }
.detail table th { text-align: left; vertical-align: top; padding-right: 12px; color: var(--muted); font-weight: normal; }
.steps .step > summary { display: grid; grid-template-columns: 36px 140px 1fr; gap: 8px; padding: 4px 0;
  border-bottom: 1px solid #eef0f2; }
.step .index { color: var(--muted); text-align: right; }
.step .type { font-weight: 600; font-size: 12px; }
.step.function_call .type { color: var(--tool); }
.step.function_result .type { color: #1a7f37; }
.step.thought .type { color: #8250df; }
.brief { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.error-text { color: var(--error); }
.cite { margin: 4px 0; color: #0969da; font-size: 12px; }
.raw { margin-top: 8px; }
.raw > summary { color: var(--muted); font-size: 12px; }
table.tokens { border-collapse: collapse; width: 100%; max-width: 900px; }
table.tokens th, table.tokens td { padding: 3px 8px; text-align: left; border-bottom: 1px solid #eef0f2; font-size: 12px; }
table.tokens td:last-child { width: 30%; }
.tokbar { height: 10px; background: var(--request); border-radius: 2px; }
#agentkit-script-error { color: var(--error); border: 1px solid var(--error); padding: 8px; }
"""

SCRIPT = r"""
// Builds the run page from the JSON in #agentkit-data. Text is only ever set with textContent,
// so nothing from the model or the tools becomes markup. An error is written into the page
// (#agentkit-script-error), where a test reading the DOM finds it.
(function () {
  "use strict";
  function fail(message) {
    var box = document.getElementById("agentkit-script-error");
    if (!box) {
      box = document.createElement("pre");
      box.id = "agentkit-script-error";
      document.body.insertBefore(box, document.body.firstChild);
    }
    box.textContent += String(message) + "\n";
  }
  window.onerror = function (message) { fail(message); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    var key;
    for (key in attrs || {}) {
      if (key === "text") { node.textContent = attrs[key]; }
      else if (key === "style") { node.style.cssText = attrs[key]; }
      else { node.setAttribute(key, attrs[key]); }
    }
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function secs(value) {
    return value < 1 ? Math.round(value * 1000) + " ms" : value.toFixed(2) + " s";
  }
  function json(value) { return JSON.stringify(value, null, 2); }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function textOf(blocks) {
    if (typeof blocks === "string") { return blocks; }
    if (!Array.isArray(blocks)) { return blocks === undefined ? "" : json(blocks); }
    return blocks.map(function (b) {
      return b && typeof b.text === "string" ? b.text : json(b);
    }).join("\n");
  }

  function header(data) {
    var spans = data.spans;
    var tools = spans.filter(function (s) { return s.kind === "tool"; });
    var failed = tools.filter(function (s) { return s.error; }).length;
    var retries = 0;
    var end = 0;
    spans.forEach(function (s) {
      retries += (s.retries || []).length + (s.resumes || []).length;
      end = Math.max(end, s.end);
    });
    var facts = [
      plural(spans.filter(function (s) { return s.kind === "request"; }).length, "turn"),
      plural(tools.length, "tool call") + (failed ? " (" + failed + " failed)" : ""),
      plural(retries, "retry").replace("retrys", "retries"),
      (data.usage.total_tokens || 0).toLocaleString("en") + " tokens",
      secs(end)
    ];
    var started = data.started_at ? new Date(data.started_at * 1000).toISOString() : "";
    return el("header", {}, [
      el("h1", {text: "agentkit run"}),
      el("span", {"class": "status " + (data.status || ""), text: data.status || "saved state"}),
      el("p", {"class": "facts", text: facts.join(" \u00b7 ")}),
      el("p", {"class": "muted", text: (data.run_id || "") + (started ? "  started " + started : "")})
    ]);
  }

  function label(span) {
    if (span.kind === "tool") { return span.name; }
    return (span.kind === "request" ? "turn " : "poll ") + span.turn;
  }

  function detailsFor(span, data) {
    var box = el("div", {"class": "detail"});
    var rows = [["start", secs(span.start)], ["duration", secs(span.end - span.start)]];
    if (span.interaction_id) { rows.push(["interaction", span.interaction_id]); }
    if (span.status) { rows.push(["status", span.status]); }
    if (span.delay) { rows.push(["waited first", secs(span.delay)]); }
    if (span.error) { rows.push(["error", span.error]); }
    (span.retries || []).forEach(function (r, i) {
      rows.push(["retry " + (i + 1), r.error + " (at " + secs(r.at) + ", waited " + secs(r.delay) + ")"]);
    });
    (span.resumes || []).forEach(function (r, i) {
      rows.push(["stream resumed " + (i + 1), r.error + " (at " + secs(r.at) + ")"]);
    });
    if (span.usage) { rows.push(["tokens", json(span.usage)]); }
    box.appendChild(el("table", {}, rows.map(function (row) {
      return el("tr", {}, [el("th", {text: row[0]}), el("td", {}, [el("pre", {text: row[1]})])]);
    })));
    if (span.kind === "tool") {
      data.steps.forEach(function (step) {
        if ((step.type === "function_call" && step.id === span.call_id) ||
            (step.type === "function_result" && step.call_id === span.call_id)) {
          box.appendChild(el("h4", {text: step.type === "function_call" ? "arguments" : "result"}));
          box.appendChild(el("pre", {text: step.type === "function_call" ? json(step.arguments) : textOf(step.result)}));
        }
      });
    }
    return box;
  }

  function gantt(data) {
    var spans = data.spans.slice().sort(function (a, b) { return a.start - b.start; });
    var total = Math.max.apply(null, [1e-6].concat(spans.map(function (s) { return s.end; })));
    function pct(value) { return (100 * value / total).toFixed(3) + "%"; }
    var rows = el("div", {"class": "gantt"});
    rows.appendChild(el("div", {"class": "axis"}, [el("span", {}), el("span", {"class": "ticks"},
      [0, 0.25, 0.5, 0.75, 1].map(function (f) {
        return el("span", {"class": "tick", style: "left:" + (100 * f) + "%", text: secs(total * f)});
      })), el("span", {})]));
    spans.forEach(function (span, index) {
      var bar = el("div", {
        "class": "bar " + span.kind + (span.error ? " error" : ""),
        style: "left:" + pct(span.start) + ";width:" + pct(Math.max(span.end - span.start, total / 500))
      });
      if (span.delay) {
        bar.appendChild(el("div", {"class": "wait", style: "width:" + (100 * Math.min(span.delay / Math.max(span.end - span.start, 1e-9), 1)).toFixed(1) + "%"}));
      }
      (span.retries || []).concat(span.resumes || []).forEach(function (r) {
        bar.appendChild(el("div", {"class": "mark", title: r.error,
          style: "left:" + (100 * (r.at - span.start) / Math.max(span.end - span.start, 1e-9)).toFixed(1) + "%"}));
      });
      var attrs = {"class": "row", "data-kind": span.kind, "data-index": String(index)};
      if (span.kind === "tool") { attrs["data-call-id"] = span.call_id || ""; attrs["data-tool"] = span.name; }
      var row = el("details", attrs, [
        el("summary", {}, [
          el("span", {"class": "name", text: label(span) + (span.kind === "tool" ? "  " + (span.call_id || "") : "")}),
          el("span", {"class": "track"}, [bar]),
          el("span", {"class": "time", text: secs(span.end - span.start) + ((span.retries || []).length ? "  \u21bb" + span.retries.length : "")})
        ])
      ]);
      row.addEventListener("toggle", function () {
        if (row.open && row.children.length === 1) { row.appendChild(detailsFor(span, data)); }
      });
      rows.appendChild(row);
    });
    return el("section", {}, [el("h2", {text: "Timeline"}),
      spans.length ? rows : el("p", {"class": "muted", text: "No timings were recorded."})]);
  }

  function stepBody(step) {
    var body = el("div", {"class": "detail"});
    if (step.type === "function_call") {
      body.appendChild(el("pre", {text: json(step.arguments)}));
    } else if (step.type === "function_result") {
      body.appendChild(el("pre", {"class": step.is_error ? "error-text" : "", text: textOf(step.result)}));
    } else if (step.type === "thought") {
      body.appendChild(el("pre", {text: textOf(step.summary || [])}));
    } else if (Array.isArray(step.content)) {
      step.content.forEach(function (block) {
        body.appendChild(el("pre", {text: typeof block.text === "string" ? block.text : json(block)}));
        (block.annotations || []).forEach(function (note) {
          body.appendChild(el("p", {"class": "cite",
            text: "\u2197 " + [note.title, note.url, note.file_name, note.name].filter(Boolean).join(" \u2014 ")}));
        });
      });
    }
    body.appendChild(el("details", {"class": "raw"}, [el("summary", {text: "wire JSON"}), el("pre", {text: json(step)})]));
    return body;
  }

  function brief(step) {
    if (step.type === "function_call") { return step.name + "(" + JSON.stringify(step.arguments || {}) + ")"; }
    if (step.type === "function_result") { return (step.name || step.call_id || "") + (step.is_error ? " \u2717 " : " \u2192 ") + textOf(step.result); }
    if (step.type === "thought") { return textOf(step.summary || []); }
    return Array.isArray(step.content) ? textOf(step.content) : "";
  }

  function steps(data) {
    var list = el("div", {"class": "steps"});
    data.steps.forEach(function (step, index) {
      var text = brief(step);
      var attrs = {"class": "step " + step.type};
      if (step.type === "function_call") { attrs["data-step-call-id"] = step.id || ""; }
      var item = el("details", attrs, [el("summary", {}, [
        el("span", {"class": "index", text: String(index + 1)}),
        el("span", {"class": "type", text: step.type}),
        el("span", {"class": "brief", text: text.length > 160 ? text.slice(0, 157) + "..." : text})
      ])]);
      item.addEventListener("toggle", function () {
        if (item.open && item.children.length === 1) { item.appendChild(stepBody(step)); }
      });
      list.appendChild(item);
    });
    return el("section", {}, [el("h2", {text: "Steps"}), list]);
  }

  function tokens(data) {
    var turns = data.spans.filter(function (s) { return s.usage; });
    var most = Math.max.apply(null, [1].concat(turns.map(function (s) { return s.usage.total_tokens || 0; })));
    var head = el("tr", {}, ["turn", "interaction", "input", "output", "thought", "total", ""].map(function (t) { return el("th", {text: t}); }));
    var rows = turns.map(function (s) {
      var u = s.usage;
      return el("tr", {}, [
        el("td", {text: label(s)}), el("td", {text: s.interaction_id || ""}),
        el("td", {text: String(u.total_input_tokens || 0)}), el("td", {text: String(u.total_output_tokens || 0)}),
        el("td", {text: String(u.total_thought_tokens || 0)}), el("td", {text: String(u.total_tokens || 0)}),
        el("td", {}, [el("div", {"class": "tokbar", style: "width:" + (100 * (u.total_tokens || 0) / most).toFixed(1) + "%"})])
      ]);
    });
    return el("section", {}, [el("h2", {text: "Tokens per turn"}), el("table", {"class": "tokens"}, [head].concat(rows))]);
  }

  try {
    var data = JSON.parse(document.getElementById("agentkit-data").textContent);
    var root = document.getElementById("agentkit-run");
    [header(data), gantt(data), tokens(data), steps(data)].forEach(function (part) { root.appendChild(part); });
    root.setAttribute("data-ready", "true");
  } catch (error) {
    fail(error && error.stack ? error.stack : error);
  }
})();
"""
