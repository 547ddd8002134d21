/*
 * sockscope HTML report: builds the page from the JSON in #sockscope-data with uPlot.
 * Plain browser JavaScript, no network. Text from the capture goes into the page only
 * through textContent / text nodes / setAttribute, never through HTML parsing.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("sockscope-data").textContent);
  var SEV_RANK = { error: 3, warning: 2, info: 1 };
  var C = {
    client: "#1f6fb2", server: "#2e9b4f", old: "#d62728", ack: "#444", win: "#e07b00",
    syn: "#111", rst: "#d62728", hl: "#f2b705", zero: "#d62728",
    error: "#c62828", warning: "#d98c00", info: "#6a8f6a",
  };
  var TH_FIN = 1, TH_SYN = 2, TH_RST = 4, TH_PSH = 8, TH_ACK = 16, TH_URG = 32, TH_ECE = 64, TH_CWR = 128;
  var CHART_HEIGHT = 230;
  /** Title, legend and margins around a chart, in CSS pixels (for reserving space). */
  var RESERVE_EXTRA = 80;
  /** Flow sections created up front (the others on demand). */
  var MAX_INITIAL_SECTIONS = 200;
  /** Rows rendered per "show more" step. */
  var PAGE_ROWS = 500;
  /** Lanes in the timeline (worst flows first): a canvas taller than this costs too much memory. */
  var MAX_LANES = 400;
  /** Height of one timeline lane, in CSS pixels: its label is one line of text. */
  var LANE_PX = 18;
  /** Width of the timeline's lane labels. */
  var LANE_LABEL_PX = 360;
  /** Flows named in the summary's "worst flows". */
  var WORST_FLOWS = 5;
  /** Milliseconds a JavaScript Date can hold either side of 1970 (ECMA-262 \u00a721.4.1.1). */
  var MAX_DATE_MS = 8.64e15;

  // ------------------------------------------------------------------ helpers

  /** createElement with properties; strings among children become text nodes. */
  function el(tag, props) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        var v = props[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "class") e.className = v;
        else if (k === "text") e.textContent = String(v);
        else if (k === "dataset") Object.keys(v).forEach(function (d) { e.dataset[d] = String(v[d]); });
        else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? "" : String(v));
      });
    }
    for (var i = 2; i < arguments.length; i++) append(e, arguments[i]);
    return e;
  }
  function append(e, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { append(e, x); }); return; }
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  function num(n) { return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"); }
  /** Axis labels for byte counts: k/M/G with as many decimals as the tick step needs. */
  function bytesAxis(splits) {
    var vals = splits.filter(function (x) { return x !== null; });
    if (vals.length === 0) return splits.map(function () { return ""; });
    var max = Math.max.apply(null, vals.map(Math.abs));
    var step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : max || 1;
    var unit = max >= 1e9 ? 1e9 : max >= 1e6 ? 1e6 : max >= 1e4 ? 1e3 : 1;
    var suffix = unit === 1e9 ? "G" : unit === 1e6 ? "M" : unit === 1e3 ? "k" : "";
    var dec = Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9));
    if (dec > 3) return splits.map(function (x) { return x === null ? "" : num(x); });
    return splits.map(function (x) { return x === null ? "" : x === 0 ? "0" : (x / unit).toFixed(dec) + suffix; });
  }
  /** Room for the longest tick label. */
  function axisSize(u, values) {
    var n = 0;
    (values || []).forEach(function (v) { n = Math.max(n, v === null ? 0 : String(v).length); });
    return Math.max(48, 22 + 7.2 * n);
  }
  function secs(v) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v);
    return a >= 100 ? v.toFixed(1) + " s" : a >= 1 ? v.toFixed(3) + " s" : (v * 1000).toFixed(a >= 0.01 ? 1 : 3) + " ms";
  }
  /** A capture's time of day; pcapng's 64-bit timestamps reach far beyond what a Date holds, so never throw. */
  function iso(t) {
    if (t === null || t === undefined) return "-";
    if (typeof t !== "number" || !isFinite(t) || Math.abs(t * 1000) > MAX_DATE_MS) {
      return String(t) + " s since 1970 (out of range for a date)";
    }
    return new Date(t * 1000).toISOString().replace("T", " ").replace("Z", " UTC");
  }
  function flagString(f) {
    var s = "";
    if (f & TH_SYN) s += "S";
    if (f & TH_FIN) s += "F";
    if (f & TH_RST) s += "R";
    if (f & TH_PSH) s += "P";
    if (f & TH_URG) s += "U";
    if (f & TH_ECE) s += "E";
    if (f & TH_CWR) s += "W";
    if (f & TH_ACK) s += ".";
    return s === "" ? "none" : s;
  }
  /** "3-7, 9, 12" */
  function compressFrames(frames) {
    var parts = [];
    for (var i = 0; i < frames.length;) {
      var j = i;
      while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
      parts.push(j > i + 1 ? frames[i] + "-" + frames[j] : j === i + 1 ? frames[i] + ", " + frames[j] : String(frames[i]));
      i = j + 1;
    }
    return parts.join(", ");
  }
  function sevBadge(sev) { return el("span", { class: "sev sev-" + sev, text: sev }); }

  // ------------------------------------------------------------------ data

  // Programs (live attribution, or a pcapng naming them): a column only when some flow has them.
  var HAS_PROCESS = DATA.flows.some(function (r) { return r[23] !== null && r[23] !== undefined; });
  var FLOWS = DATA.flows.map(function (r) {
    return {
      id: r[0], proto: r[1], client: r[2], server: r[3], rolesGuessed: !!r[4], vlan: r[5], firstFrame: r[6], lastFrame: r[7],
      start: r[8], duration: r[9], packets: [r[10], r[11]], bytes: [r[12], r[13]], closeFirst: r[14], closeHow: r[15],
      closeFrame: r[16], state: [r[17], r[18]], previous: r[19], firstBytes: [r[20], r[21]],
      copyOf: r[22], process: r[23],
    };
  });
  var flowById = new Map();
  FLOWS.forEach(function (f) { flowById.set(f.id, f); });
  var FINDINGS = DATA.findings.map(function (f, i) {
    var o = Object.assign({}, f);
    o.idx = i;
    o.explanation = (f.detail ? f.detail + " " : "") + DATA.texts[f.x];
    return o;
  });
  var findingsByFlow = new Map();
  FINDINGS.forEach(function (f) {
    if (f.flow === null) return;
    var l = findingsByFlow.get(f.flow);
    if (!l) findingsByFlow.set(f.flow, l = []);
    l.push(f);
  });
  var duration = DATA.capture.durationSec || 0;

  /** Worst severity and number of findings of each flow with findings. */
  var flowWorst = new Map();
  findingsByFlow.forEach(function (fs, id) {
    var rank = 0;
    fs.forEach(function (x) { rank = Math.max(rank, SEV_RANK[x.severity]); });
    flowWorst.set(id, { rank: rank, severity: ["", "info", "warning", "error"][rank], n: fs.length });
  });
  /** Worst flows first: by worst severity, then number of findings, then id; flows without findings last, by id. */
  function byWorst(a, b) {
    var x = flowWorst.get(a.id), y = flowWorst.get(b.id);
    return (y ? y.rank : 0) - (x ? x.rank : 0) || (y ? y.n : 0) - (x ? x.n : 0) || a.id - b.id;
  }
  /** More findings than read well one by one: summarise them by kind and fold the full list (the text report's rule). */
  var summarised = DATA.findingCount > DATA.summaryThreshold;

  function flowTitle(f) {
    return "Flow " + f.id + " " + f.proto + " " + f.client + (f.rolesGuessed ? " ?" : "") + " \u2192 " + f.server;
  }
  /** "#96 tcp 10.0.0.1:55241 → 172.224.37.171:443": how a lane or a summary row names a flow. */
  function flowLabel(f) {
    return "#" + f.id + " " + f.proto + " " + f.client + (f.rolesGuessed ? " ?" : "") + " \u2192 " + f.server;
  }

  /** Decodes a flow's series (layout: render.ts encodeSeries). */
  function decodeSeries(sj) {
    var n = sj.t.length, udp = sj.u === 1;
    var S = {
      n: n, udp: udp, packets: sj.n, collected: sj.c, drawn: sj.d,
      x: new Float64Array(n), frame: new Array(n), dir: new Uint8Array(n), flags: new Uint8Array(n), old: new Uint8Array(n),
      hasAck: new Uint8Array(n), seq: new Float64Array(n), len: new Float64Array(n), end: new Float64Array(n),
      ack: new Float64Array(n), win: new Float64Array(n), inFlight: new Float64Array(n),
    };
    var t = 0, fr = 0, ps = [0, 0], pa = [0, 0], pw = [0, 0], pi = [0, 0];
    for (var i = 0; i < n; i++) {
      t += sj.t[i]; fr += sj.f[i];
      S.x[i] = t / 1e6; S.frame[i] = fr;
      var m = sj.m[i], d = m & 1;
      S.dir[i] = d; S.old[i] = (m >> 1) & 1; S.hasAck[i] = (m >> 2) & 1; S.flags[i] = m >> 3;
      ps[d] += sj.s[i]; S.seq[i] = ps[d]; S.len[i] = sj.l[i];
      S.end[i] = ps[d] + sj.l[i] + (S.flags[i] & TH_SYN ? 1 : 0) + (S.flags[i] & TH_FIN ? 1 : 0);
      if (!udp) {
        if (S.hasAck[i]) pa[d] += sj.a[i];
        S.ack[i] = pa[d];
        pw[d] += sj.w[i]; S.win[i] = pw[d];
        pi[d] += sj.i[i]; S.inFlight[i] = pi[d];
      }
    }
    return S;
  }
  var decoded = new Map();
  function seriesOf(id) {
    if (!decoded.has(id)) {
      var sj = DATA.series[id];
      decoded.set(id, sj ? decodeSeries(sj) : null);
    }
    return decoded.get(id);
  }

  // ------------------------------------------------------------------ tooltip

  var tip = el("div", { class: "tooltip", role: "tooltip" });
  document.body.appendChild(tip);
  function showTip(lines, clientX, clientY) {
    tip.textContent = "";
    lines.forEach(function (l, i) { append(tip, el("div", { class: i === 0 ? "tip-head" : null, text: l })); });
    tip.style.display = "block";
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var x = clientX + 14, y = clientY + 14;
    if (x + w > window.innerWidth - 4) x = clientX - w - 14;
    if (y + h > window.innerHeight - 4) y = clientY - h - 14;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hideTip() { tip.style.display = "none"; }

  // ------------------------------------------------------------------ page skeleton

  var app = document.getElementById("app");
  var cap = DATA.capture;
  var sevCounts = { error: 0, warning: 0, info: 0 };
  DATA.findings.forEach(function (f) { sevCounts[f.severity]++; });

  function summarySection() {
    var facts = [
      ["File", cap.file], ["Format", cap.format + " (" + (cap.linkTypes.join(", ") || "no interfaces") + ")"],
      ["Packets", num(cap.packets)], ["Bytes", num(cap.bytes)],
      ["Start", iso(cap.start)], ["Duration", secs(cap.durationSec)],
      ["Flows", num(cap.flows.tcp) + " TCP, " + num(cap.flows.udp) + " UDP"],
      ["IP packets", num(cap.ipPackets) + " (" + num(cap.nonIpPackets) + " other)"],
    ];
    // A capture filter or -c: which packets the report covers, of those read.
    var sel = cap.selection;
    if (sel) facts.splice(2, 0, ["Selection", (sel.filter !== null ? "filter \u201c" + sel.filter + "\u201d" : "") + (sel.filter !== null && sel.count !== null ? ", " : "") + (sel.count !== null ? "-c " + sel.count : "") + ": " + num(sel.packetsKept) + " of " + num(sel.packetsRead) + " packets read, " + num(sel.bytesKept) + " bytes captured"]);
    if (cap.truncatedPackets) facts.push(["Cut by snap length", num(cap.truncatedPackets)]);
    if (cap.fragments) facts.push(["IP fragments", num(cap.fragments) + " (" + num(cap.reassembledDatagrams) + " datagrams reassembled)"]);
    var dl = el("dl", { class: "facts" });
    facts.forEach(function (p) { append(dl, [el("dt", { text: p[0] }), el("dd", { text: p[1] })]); });
    var counts = el("p", { class: "counts" }, "Findings: ",
      ["error", "warning", "info"].map(function (s) { return el("span", { class: "count sev-" + s, text: num(sevCounts[s]) + " " + s + (sevCounts[s] === 1 || s === "info" ? "" : "s") }); }));
    var sec = el("section", { id: "summary" }, el("h2", { text: "Capture" }), dl, counts);
    if (cap.partial) append(sec, el("p", { class: "warn", text: "Partial: reading stopped at damage in the file; the report covers the packets before it." }));
    if (DATA.warnings.length > 0) {
      append(sec, el("h3", { text: "Warnings (" + DATA.warnings.length + ")" }),
        el("ul", { class: "warnings" }, DATA.warnings.map(function (w) { return el("li", { text: w }); })));
    }
    return sec;
  }

  /** A button naming a flow that opens its graphs. */
  function flowButton(id, suffix) {
    var f = flowById.get(id);
    return el("button", { type: "button", class: "link flow-ref", title: f ? flowTitle(f) + " (show its graphs)" : null, onclick: function () { showFlow(id, null); } },
      (f ? flowLabel(f) : "#" + id) + (suffix || ""));
  }

  /** Findings by kind (src/report/summary-by-kind.ts: worst kinds first, then the most frequent), then the worst flows. */
  function kindSummarySection() {
    var body = el("tbody");
    DATA.kinds.forEach(function (k) {
      var top = k.topFlows.map(function (t) { return el("div", null, flowButton(t.flow, " (" + num(t.occurrences) + ")")); });
      var rest = k.flows - k.topFlows.length;
      // On the last flow's line: one line less per kind keeps the timeline on the first screen.
      if (rest > 0) append(top[top.length - 1], el("span", { class: "muted", text: " \u2026 " + num(rest) + " more flow" + (rest === 1 ? "" : "s") }));
      if (k.captureWide > 0) top.push(el("div", { text: "capture-wide (" + num(k.captureWide) + ")" }));
      var ex = k.example;
      append(body, el("tr", { class: "kind", dataset: { kind: k.kind, severity: k.severity } },
        el("td", null, sevBadge(k.severity)),
        el("td", null, el("button", { type: "button", class: "link kind-ref", title: "list these findings (all findings, below)", onclick: function () { showKind(k.kind); } }, el("code", { text: k.kind }))),
        el("td", { class: "num", text: num(k.findings) }),
        el("td", { class: "num", text: num(k.flows) }),
        el("td", { class: "top-flows" }, top),
        el("td", { class: "example" },
          el("div", { class: "example-summary", title: ex.summary },
            ex.flow === null ? "capture-wide: " : el("b", { text: "#" + ex.flow + ": " }), ex.summary))));
    });
    var worst = FLOWS.filter(function (f) { return flowWorst.has(f.id); }).sort(byWorst).slice(0, WORST_FLOWS);
    var worstList = el("ol", { class: "worst-flows", id: "worst-flows" }, worst.map(function (f) {
      var fs = findingsByFlow.get(f.id), w = flowWorst.get(f.id);
      var kindsOf = Array.from(new Set(fs.map(function (x) { return x.kind; })));
      return el("li", { dataset: { flow: f.id, severity: w.severity } }, sevBadge(w.severity), " ", flowButton(f.id),
        el("span", { class: "muted", text: " \u2014 " + w.n + " finding" + (w.n === 1 ? "" : "s") + ": " + kindsOf.join(", ") }));
    }));
    return el("section", { id: "kinds" },
      el("h2", { text: "Findings by kind (" + num(DATA.findingCount) + " findings, " + DATA.kinds.length + " kind" + (DATA.kinds.length === 1 ? "" : "s") + ")" }),
      el("table", { class: "kinds", id: "kinds-table" },
        el("thead", null, el("tr", null, ["Severity", "Kind", "Findings", "Flows", "Top flows (times seen)", "Example (its first by flow)"].map(function (h) { return el("th", { text: h }); }))),
        body),
      el("h3", { class: "worst-head", text: "Worst flows (by severity, then number of findings)" }),
      worstList);
  }

  append(app, [
    el("header", { class: "top" },
      el("h1", null, "sockscope report ", el("span", { class: "file", text: cap.file })),
      el("nav", null,
        el("a", { href: "#summary", text: "Capture" }), summarised ? el("a", { href: "#kinds", text: "By kind" }) : null,
        el("a", { href: "#timeline-section", text: "Timeline" }), el("a", { href: "#findings", text: "Findings" }),
        el("a", { href: "#flows", text: "Flows" }), el("a", { href: "#graphs", text: "Flow graphs" })),
      el("div", { class: "gen", text: DATA.generator })),
    summarySection(),
    summarised ? kindSummarySection() : null,
  ]);

  // ------------------------------------------------------------------ timeline (drawn at the end, once the flow sections exist)

  var timelineBox = el("div", { id: "timeline", class: "timeline" });
  var timelineNote = el("p", { class: "hint", id: "timeline-note" });
  append(app, el("section", { id: "timeline-section" },
    el("h2", { text: "Timeline" }),
    el("p", { class: "hint", text: "One lane per flow, worst flows first (by severity, then number of findings), then the others by id; each from its first to its last packet (grey: closed with FIN, red: reset, blue: TCP still open, purple: UDP). Markers are findings at their first frame, coloured by severity. Drag to zoom in time, double-click to reset, click a lane or its label for the flow's graphs." }),
    timelineNote,
    timelineBox));

  // ------------------------------------------------------------------ findings table

  var fState = { kind: "", severity: "", flow: "", text: "", sortKey: "severity", sortDir: -1, limit: PAGE_ROWS, open: new Set() };
  var kinds = Array.from(new Set(FINDINGS.map(function (f) { return f.kind; }))).sort();
  var findingFlows = Array.from(new Set(FINDINGS.map(function (f) { return f.flow; }))).sort(function (a, b) { return (a === null ? -1 : a) - (b === null ? -1 : b); });

  function select(id, label, options, onChange) {
    var s = el("select", { id: id, onchange: function () { onChange(s.value); } },
      options.map(function (o) { return el("option", { value: o[0], text: o[1] }); }));
    return el("label", null, label + " ", s);
  }
  var countLine = el("span", { class: "showing", id: "findings-count" });
  var fBody = el("tbody");
  var fMore = el("button", { type: "button", class: "more", onclick: function () { fState.limit += PAGE_ROWS; renderFindings(); } });
  var columns = [
    ["severity", "Severity"], ["kind", "Kind"], ["flow", "Flow"], ["side", "Side"], ["time", "Time"], ["frames", "Frames"], ["summary", "Summary"],
  ];
  var headRow = el("tr", null, columns.map(function (c) {
    return el("th", { dataset: { key: c[0] }, class: "sortable", title: "sort by " + c[1].toLowerCase(), onclick: function () {
      if (fState.sortKey === c[0]) fState.sortDir = -fState.sortDir;
      else { fState.sortKey = c[0]; fState.sortDir = c[0] === "severity" ? -1 : 1; }
      renderFindings();
    } }, c[1]);
  }));
  var filters = el("div", { class: "filters" },
    select("filter-kind", "Kind", [["", "all"]].concat(kinds.map(function (k) { return [k, k]; })), function (v) { fState.kind = v; fState.limit = PAGE_ROWS; renderFindings(); }),
    select("filter-severity", "Severity", [["", "all"], ["error", "error"], ["warning", "warning"], ["info", "info"]], function (v) { fState.severity = v; fState.limit = PAGE_ROWS; renderFindings(); }),
    select("filter-flow", "Flow", [["", "all"]].concat(findingFlows.map(function (f) { return [f === null ? "none" : String(f), f === null ? "capture-wide" : "#" + f]; })), function (v) { fState.flow = v; fState.limit = PAGE_ROWS; renderFindings(); }),
    el("label", null, "Search ", el("input", { type: "search", id: "filter-text", placeholder: "host, port, #flow, summary\u2026", oninput: function (e) { fState.text = e.target.value.toLowerCase(); fState.limit = PAGE_ROWS; renderFindings(); } })),
    countLine);
  var findingsNote = DATA.findingCount > FINDINGS.length
    ? el("p", { class: "warn", text: "This report lists the " + num(FINDINGS.length) + " most severe of " + num(DATA.findingCount) + " findings; all are in --format json." })
    : null;
  // Summarised, the full list is folded away: a big capture's hundreds of rows would push everything else down.
  var findingsAll = el("details", { id: "findings-all", open: !summarised },
    el("summary", { text: summarised ? "Show all " + num(FINDINGS.length) + " findings, filtered by kind, severity, flow or host" : "All findings, filtered by kind, severity, flow or host" }),
    findingsNote, filters,
    el("table", { class: "findings", id: "findings-table" }, el("thead", null, headRow), fBody), fMore);
  append(app, el("section", { id: "findings" },
    el("h2", { text: (summarised ? "All findings (" : "Findings (") + num(DATA.findingCount) + ")" }),
    habitsSection(),
    FINDINGS.length === 0 ? el("p", { class: "none", text: "No findings: nothing in this capture matched a socket problem sockscope knows." }) : findingsAll));

  /**
   * Repeated habits (src/report/habits.ts): each folded to its title line; opened, the
   * example's summary, the explanation once, and a line per finding, each opening that
   * finding in the full list below.
   */
  function habitsSection() {
    if (DATA.habits.length === 0) return null;
    return el("div", { id: "habits" },
      el("h3", { text: "Repeated habits (" + DATA.habits.length + "): the same finding on 3 or more connections of one client" }),
      DATA.habits.map(function (h, n) {
        var ex = h.example === null ? null : FINDINGS[h.example];
        var rows = h.findings.map(function (idx, i) {
          var f = FINDINGS[idx];
          return el("li", { dataset: { idx: idx } },
            flowButton(f.flow), " ",
            el("span", { class: "muted", text: f.frames.length ? "[frames " + compressFrames(f.frames.slice(0, 8)) + (f.frames.length > 8 || f.count > f.frames.length ? ", \u2026" : "") + "] " : "" }),
            el("span", { text: h.short[i] + " " }),
            el("button", { type: "button", class: "link finding-ref", title: "open this finding in the list below", onclick: function () { showFinding(idx); } }, "details"));
        });
        return el("details", { class: "habit", dataset: { habit: n, kind: h.kind, severity: h.severity } },
          el("summary", null, sevBadge(h.severity), " ", h.title),
          ex ? el("p", { class: "meta" }, el("b", { text: "Example, flow " + ex.flow + ": " }), ex.summary) : null,
          ex ? el("p", { class: "explanation", text: ex.explanation }) : null,
          h.count > h.findings.length ? el("p", { class: "warn", text: "Listed here: " + h.findings.length + " of its " + h.count + " findings (the page's cap); all are in --format json." }) : null,
          el("ul", { class: "habit-findings" }, rows));
      }));
  }

  /** A habit's line to one finding: the full list unfolded, filtered to its flow and kind, the finding opened. */
  function showFinding(idx) {
    var f = FINDINGS[idx];
    showKind(f.kind);
    fState.flow = f.flow === null ? "none" : String(f.flow);
    document.getElementById("filter-flow").value = fState.flow;
    fState.open.add(idx);
    renderFindings();
    var row = fBody.querySelector('tr.finding[data-idx="' + idx + '"]');
    if (row) row.scrollIntoView({ block: "center", behavior: "instant" });
  }

  /** The summary's link to a kind: the full list, unfolded and filtered to it. */
  function showKind(kind) {
    fState.kind = kind; fState.severity = ""; fState.flow = ""; fState.text = ""; fState.limit = PAGE_ROWS;
    document.getElementById("filter-kind").value = kind;
    document.getElementById("filter-severity").value = "";
    document.getElementById("filter-flow").value = "";
    document.getElementById("filter-text").value = "";
    findingsAll.open = true;
    renderFindings();
    document.getElementById("findings").scrollIntoView({ block: "start", behavior: "instant" });
  }

  function sortValue(f, key) {
    switch (key) {
      case "severity": return SEV_RANK[f.severity];
      case "flow": return f.flow === null ? -1 : f.flow;
      case "frames": return f.frames.length ? f.frames[0] : 0;
      case "time": return f.time;
      case "side": return f.side || "";
      default: return f[key];
    }
  }
  /** What the search box matches: the finding's words and its flow's number and both endpoints (hosts and ports). */
  function searchText(f) {
    if (f.search === undefined) {
      var fl = f.flow === null ? null : flowById.get(f.flow);
      f.search = (f.summary + " " + f.kind + " " + (f.endpoint || "") + " " +
        (f.flow === null ? "capture-wide" : "#" + f.flow + (fl ? " " + fl.proto + " " + fl.client + " " + fl.server : ""))).toLowerCase();
    }
    return f.search;
  }
  function filteredFindings() {
    var out = FINDINGS.filter(function (f) {
      if (fState.kind && f.kind !== fState.kind) return false;
      if (fState.severity && f.severity !== fState.severity) return false;
      if (fState.flow && (fState.flow === "none" ? f.flow !== null : String(f.flow) !== fState.flow)) return false;
      if (fState.text && searchText(f).indexOf(fState.text) < 0) return false;
      return true;
    });
    var k = fState.sortKey, d = fState.sortDir;
    out.sort(function (a, b) {
      var x = sortValue(a, k), y = sortValue(b, k);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return c * d || a.idx - b.idx;
    });
    return out;
  }
  function findingDetail(f) {
    var measure = Object.keys(f.measure).map(function (k) { return k + " = " + num(f.measure[k]); }).join(", ");
    return el("td", { colspan: columns.length },
      el("p", { class: "explanation", text: f.explanation }),
      el("p", { class: "meta" }, el("b", { text: "Frames: " }), f.frames.length ? compressFrames(f.frames) : "none",
        f.count > f.frames.length ? " (first " + f.frames.length + " of " + num(f.count) + ")" : f.count > 1 ? " (" + num(f.count) + " times)" : ""),
      measure ? el("p", { class: "meta" }, el("b", { text: "Measured: " }), measure) : null,
      f.endpoint ? el("p", { class: "meta" }, el("b", { text: "Side: " }), f.side + " " + f.endpoint) : null,
      el("p", { class: "meta refs" }, el("b", { text: "See: " }), f.references.join("; ")),
      f.flow !== null ? el("button", { type: "button", class: "show-graph", onclick: function () { showFlow(f.flow, f.idx); } }, "Show flow " + f.flow + " graphs") : null);
  }
  function renderFindings() {
    if (FINDINGS.length === 0) return;
    var rows = filteredFindings();
    fBody.textContent = "";
    rows.slice(0, fState.limit).forEach(function (f) {
      var open = fState.open.has(f.idx);
      var tr = el("tr", { class: "finding" + (open ? " open" : ""), dataset: { kind: f.kind, severity: f.severity, flow: f.flow === null ? "" : f.flow, idx: f.idx }, onclick: function () {
        if (fState.open.has(f.idx)) fState.open.delete(f.idx); else fState.open.add(f.idx);
        renderFindings();
      } },
        el("td", null, el("span", { class: "caret", text: open ? "\u25be" : "\u25b8" }), sevBadge(f.severity)),
        el("td", null, el("code", { text: f.kind })),
        el("td", null, f.flow === null ? "-" : el("button", { type: "button", class: "link", title: "show this flow's graphs", onclick: function (e) { e.stopPropagation(); showFlow(f.flow, f.idx); } }, "#" + f.flow)),
        el("td", { text: f.side || "-" }),
        el("td", { class: "num", text: secs(f.time) }),
        el("td", { class: "frames", text: f.frames.length ? compressFrames(f.frames.slice(0, 8)) + (f.frames.length > 8 || f.count > f.frames.length ? ", \u2026" : "") : "-" }),
        el("td", { class: "summary", text: f.summary }));
      fBody.appendChild(tr);
      if (open) fBody.appendChild(el("tr", { class: "detail" }, findingDetail(f)));
    });
    countLine.textContent = "showing " + Math.min(rows.length, fState.limit) + " of " + rows.length + (rows.length !== FINDINGS.length ? " (filtered from " + FINDINGS.length + ")" : "");
    fMore.style.display = rows.length > fState.limit ? "" : "none";
    fMore.textContent = "show " + Math.min(PAGE_ROWS, rows.length - fState.limit) + " more";
    headRow.querySelectorAll("th").forEach(function (th) {
      th.classList.toggle("sorted", th.dataset.key === fState.sortKey);
      th.dataset.dir = th.dataset.key === fState.sortKey ? (fState.sortDir > 0 ? "asc" : "desc") : "";
    });
  }
  renderFindings();

  // ------------------------------------------------------------------ timeline

  function renderTimeline() {
    if (FLOWS.length === 0) { append(timelineBox, el("p", { class: "none", text: "No flows." })); return; }
    var lanesFlows = FLOWS.slice().sort(byWorst).slice(0, MAX_LANES);
    if (lanesFlows.length < FLOWS.length) {
      timelineNote.textContent = "Showing the " + num(lanesFlows.length) + " worst of " + num(FLOWS.length) + " flows; the flow list below has them all.";
    }
    var lane = new Map();
    lanesFlows.forEach(function (f, i) { lane.set(f.id, i); });
    var marks = FINDINGS.filter(function (f) { return f.flow !== null && lane.has(f.flow); })
      .sort(function (a, b) { return a.time - b.time; });
    // The time axis spans the lanes' flows, not the capture: one stray packet years away would squeeze every lane to a dot.
    var lo = Infinity, hi = -Infinity;
    lanesFlows.forEach(function (f) { lo = Math.min(lo, f.start); hi = Math.max(hi, f.start + f.duration); });
    if (marks.length) { lo = Math.min(lo, marks[0].time); hi = Math.max(hi, marks[marks.length - 1].time); }
    if (!(hi > lo)) hi = lo + 1e-3;
    var pad = (hi - lo) * 0.01;
    var xs = [lo - pad].concat(marks.map(function (f) { return f.time; }), [hi + pad]);
    var bySev = { error: [null], warning: [null], info: [null] };
    marks.forEach(function (f) {
      ["error", "warning", "info"].forEach(function (s) { bySev[s].push(f.severity === s ? -lane.get(f.flow) : null); });
    });
    ["error", "warning", "info"].forEach(function (s) { bySev[s].push(null); });
    var nl = lanesFlows.length;
    var AXIS_PX = 50;
    var noPath = function () { return null; };
    var markSeries = function (s) {
      return { label: s + " findings", stroke: C[s], paths: noPath, points: { show: true, size: 9, width: 1.5, stroke: "#fff", fill: C[s] } };
    };
    // Lane labels are page text beside the chart (readable, selectable, clickable), placed on the lanes' pixel rows below.
    var labels = el("div", { class: "lane-labels", style: "width: " + LANE_LABEL_PX + "px" });
    var plot = el("div", { class: "lane-plot" });
    var scroller = el("div", { class: "lanes" }, labels, plot);
    append(timelineBox, scroller);
    // One label per lane, centred on its row of the plot (the chart's scales are set once it is ready).
    var laneLabels = lanesFlows.map(function (f, i) {
      var w = flowWorst.get(f.id);
      return el("button", {
        type: "button", class: "lane-label", title: flowTitle(f) + " (show its graphs)", dataset: { flow: f.id, lane: i },
        onclick: function () { showFlow(f.id, null); },
      }, el("span", { class: "lane-dot " + (w ? "sev-" + w.severity : "none") }), flowLabel(f));
    });
    append(labels, laneLabels);
    function placeLabels(u) {
      labels.style.height = u.height + "px";
      scroller.style.maxHeight = (u.height - nl * LANE_PX + Math.min(nl, 24) * LANE_PX + 2) + "px";
      var plotTop = u.over.getBoundingClientRect().top - plot.getBoundingClientRect().top;
      laneLabels.forEach(function (b, i) {
        b.style.top = (plotTop + u.valToPos(-i, "y") - LANE_PX / 2) + "px";
        b.style.height = LANE_PX + "px";
      });
    }
    var u = new uPlot({
      width: Math.max(320, chartWidth(timelineBox) - LANE_LABEL_PX - 20), height: nl * LANE_PX + AXIS_PX,
      scales: { x: { time: false }, y: { auto: false, range: function () { return [-(nl - 0.5), 0.5]; } } },
      // Zoom in time only: the lanes keep their rows, so their labels stay beside them.
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      legend: { show: false },
      series: [{ label: "time" }, markSeries("error"), markSeries("warning"), markSeries("info")],
      axes: [
        { side: 0, size: AXIS_PX, label: "seconds since the first packet", values: function (u, v) { return v.map(function (x) { return x === null ? "" : +x.toFixed(6) + ""; }); } },
        { show: false },
      ],
      hooks: {
        ready: [function (u) {
          // The axis and its title take what they need: grow the chart so that every lane gets its LANE_PX.
          var short = Math.round(nl * LANE_PX - u.bbox.height / devicePixelRatio);
          // (Inside a hook uPlot's commit is still marked queued: batch() applies the new size now.)
          if (short !== 0) u.batch(function () { u.setSize({ width: u.width, height: u.height + short }); });
          placeLabels(u);
        }],
        setSize: [function (u) { placeLabels(u); }],
        drawClear: [function (u) {
          var ctx = u.ctx, b = u.bbox;
          ctx.save();
          ctx.beginPath(); ctx.rect(b.left, b.top, b.width, b.height); ctx.clip();
          var h = Math.max(1, 10 * devicePixelRatio);
          lanesFlows.forEach(function (f, i) {
            var y = u.valToPos(-i, "y", true);
            if (i % 2 === 1) { ctx.fillStyle = "#f6f8fa"; ctx.fillRect(b.left, y - LANE_PX * devicePixelRatio / 2, b.width, LANE_PX * devicePixelRatio); }
            var x0 = u.valToPos(f.start, "x", true), x1 = u.valToPos(f.start + f.duration, "x", true);
            ctx.fillStyle = f.closeHow === "RST" ? "#e8a0a0" : f.closeHow === "FIN" ? "#b9c0c8" : f.proto === "udp" ? "#c9b3e6" : "#9cc3e6";
            ctx.fillRect(x0, y - h / 2, Math.max(2, x1 - x0), h);
          });
          ctx.restore();
        }],
        setCursor: [function (u) {
          var left = u.cursor.left, top = u.cursor.top;
          if (left === undefined || left < 0) { hideTip(); return; }
          var rect = u.over.getBoundingClientRect();
          var i = u.cursor.idx, lines = null;
          if (i !== null && i !== undefined && i > 0 && i <= marks.length) {
            var f = marks[i - 1];
            var mx = u.valToPos(f.time, "x"), my = u.valToPos(-lane.get(f.flow), "y");
            if (Math.abs(mx - left) < 8 && Math.abs(my - top) < 8) {
              lines = [f.severity + " " + f.kind + " (flow " + f.flow + ")", f.summary, "at " + secs(f.time) + (f.frames.length ? ", frames " + compressFrames(f.frames.slice(0, 8)) : "")];
            }
          }
          if (lines === null) {
            var l = Math.round(-u.posToVal(top, "y")), fl = lanesFlows[l];
            if (fl) {
              var n = (findingsByFlow.get(fl.id) || []).length;
              lines = [flowTitle(fl), "frames " + fl.firstFrame + "-" + fl.lastFrame + ", " + secs(fl.start) + " to " + secs(fl.start + fl.duration),
                num(fl.packets[0] + fl.packets[1]) + " packets" + (n ? ", " + n + " finding" + (n === 1 ? "" : "s") : "") + " (click for graphs)"];
            }
          }
          if (lines) showTip(lines, rect.left + left, rect.top + top); else hideTip();
        }],
      },
    }, [xs, bySev.error, bySev.warning, bySev.info], plot);
    u.over.addEventListener("mouseleave", hideTip);
    u.over.addEventListener("click", function () {
      if (u.select.width > 2) return;
      var l = Math.round(-u.posToVal(u.cursor.top, "y")), fl = lanesFlows[l];
      if (fl) showFlow(fl.id, null);
    });
    window.sockscope.timeline = u;
    window.sockscope.timelineFlows = lanesFlows.map(function (f) { return f.id; });
  }

  // ------------------------------------------------------------------ flow list

  var flState = { text: "", limit: PAGE_ROWS };
  var flBody = el("tbody");
  var flCount = el("span", { class: "showing" });
  var flMore = el("button", { type: "button", class: "more", onclick: function () { flState.limit += PAGE_ROWS; renderFlowList(); } });
  append(app, el("section", { id: "flows" },
    el("h2", { text: "Flows (" + num(DATA.flowCount) + ")" }),
    DATA.flowCount > FLOWS.length ? el("p", { class: "warn", text: "This report lists " + num(FLOWS.length) + " of " + num(DATA.flowCount) + " flows (all flows with findings first); all are in --format json." }) : null,
    el("div", { class: "filters" },
      el("label", null, "Filter ", el("input", { type: "search", id: "flow-filter", placeholder: "id, address, port, first bytes…", oninput: function (e) { flState.text = e.target.value.toLowerCase(); flState.limit = PAGE_ROWS; renderFlowList(); } })),
      flCount),
    el("div", { class: "scroll" },
      el("table", { class: "flows", id: "flows-table" },
        el("thead", null, el("tr", null, ["Flow", "Proto", "Client", "Server", "Frames", "Packets c\u2192s / s\u2192c", "Bytes c\u2192s / s\u2192c", "Closed by", "End state c / s"].concat(HAS_PROCESS ? ["Process c / s"] : [], ["Findings", "First bytes c\u2192s", "First bytes s\u2192c", ""]).map(function (h) { return el("th", { text: h }); }))),
        flBody)),
    flMore));

  function renderFlowList() {
    var t = flState.text;
    var rows = t ? FLOWS.filter(function (f) {
      return ("#" + f.id + " " + f.proto + " " + f.client + " " + f.server + " " + (f.firstBytes[0] || "") + " " + (f.firstBytes[1] || "")).toLowerCase().indexOf(t) >= 0;
    }) : FLOWS;
    flBody.textContent = "";
    rows.slice(0, flState.limit).forEach(function (f) {
      var fs = findingsByFlow.get(f.id) || [];
      var worst = fs.reduce(function (w, x) { return SEV_RANK[x.severity] > SEV_RANK[w] ? x.severity : w; }, "info");
      flBody.appendChild(el("tr", { dataset: { flow: f.id } },
        el("td", { class: "num", text: f.id + (f.previous !== null ? " (reuses " + f.previous + ")" : "") + (f.copyOf !== null ? " (= " + f.copyOf + ")" : "") }),
        el("td", { text: f.proto }),
        el("td", { class: "addr", text: f.client + (f.rolesGuessed ? " ?" : "") }),
        el("td", { class: "addr", text: f.server }),
        el("td", { class: "num", text: f.firstFrame + "-" + f.lastFrame }),
        el("td", { class: "num", text: num(f.packets[0]) + " / " + num(f.packets[1]) }),
        el("td", { class: "num", text: num(f.bytes[0]) + " / " + num(f.bytes[1]) }),
        el("td", { text: f.closeHow === null ? "-" : f.closeFirst === null ? "open" : f.closeFirst + " " + f.closeHow }),
        el("td", { text: f.state[0] === null ? "-" : f.state[0] + " / " + f.state[1] }),
        HAS_PROCESS ? el("td", { text: f.process || "-" }) : null,
        el("td", null, fs.length ? el("span", { class: "count sev-" + worst, text: String(fs.length) }) : "-"),
        el("td", null, f.firstBytes[0] !== null ? el("code", { class: "bytes", text: f.firstBytes[0] }) : "-"),
        el("td", null, f.firstBytes[1] !== null ? el("code", { class: "bytes", text: f.firstBytes[1] }) : "-"),
        el("td", null, DATA.series[f.id] ? el("button", { type: "button", class: "link", onclick: function () { showFlow(f.id, null); } }, "graphs") : "")));
    });
    flCount.textContent = "showing " + Math.min(rows.length, flState.limit) + " of " + rows.length;
    flMore.style.display = rows.length > flState.limit ? "" : "none";
    flMore.textContent = "show " + Math.min(PAGE_ROWS, rows.length - flState.limit) + " more";
  }
  renderFlowList();

  // ------------------------------------------------------------------ flow graphs

  var sectionsBox = el("div", { id: "flow-sections" });
  var L = DATA.limits;
  append(app, el("section", { id: "graphs" },
    el("h2", { text: "Flow graphs" }),
    el("p", { class: "hint" },
      "For each flow with findings (any other flow: its \u201cgraphs\u201d button in the flow list). Sequence graphs, one per direction, Stevens/tcptrace style: a dot per segment at the sequence number of its last byte (red: old data, i.e. a retransmission or probe), the peer's acknowledgements (grey step line) and the window it advertised (orange dashed: ack + window), SYN/FIN (black) and RST (red ring). The window graph shows each side's advertised window and its bytes in flight. Highlighted rings are the frames a finding cites. Hover for a frame's fields; drag to zoom (the charts of a flow zoom together), double-click to reset."),
    el("p", { class: "hint", text: "Large flows are downsampled for drawing: at most " + num(L.flowPointsMax) + " packets per flow with findings and " + num(L.otherFlowPointsMax) + " per other flow, " + num(L.pointBudget) + " in all; always the first and last packet, the cited frames, SYN/FIN/RST, old data and zero windows, then per time slice the first, last, lowest-window and most-in-flight packet. Each graph says how many packets it draws." }),
    sectionsBox));

  var sections = new Map();
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (!e.isIntersecting) return;
      observer.unobserve(e.target);
      var s = sections.get(Number(e.target.dataset.flow));
      if (s && !s.rendered) renderFlowCharts(s);
    });
  }, { rootMargin: "300px" }) : null;

  function makeSection(f) {
    var box = el("div", { class: "charts" });
    var chips = el("div", { class: "chips" });
    var note = el("p", { class: "hint note" });
    var sec = el("section", { class: "flow", id: "flow-" + f.id, dataset: { flow: f.id } },
      el("h3", { text: flowTitle(f) }),
      el("p", { class: "meta", text: "frames " + f.firstFrame + "-" + f.lastFrame + " \u00b7 " + num(f.packets[0]) + " / " + num(f.packets[1]) + " packets \u00b7 " + num(f.bytes[0]) + " / " + num(f.bytes[1]) + " bytes (c\u2192s / s\u2192c) \u00b7 " + (f.closeHow === null ? "" : f.closeFirst === null ? "open" : "closed by " + f.closeFirst + " " + f.closeHow) + (f.state[0] ? " \u00b7 end state " + f.state[0] + " / " + f.state[1] : "") + (f.process ? " \u00b7 process " + f.process : "") }),
      f.firstBytes[0] !== null || f.firstBytes[1] !== null ? el("p", { class: "meta" }, "first bytes c\u2192s ", el("code", { class: "bytes", text: f.firstBytes[0] || "-" }), " s\u2192c ", el("code", { class: "bytes", text: f.firstBytes[1] || "-" })) : null,
      chips, note, box);
    var s = { flow: f, el: sec, box: box, chips: chips, note: note, rendered: false, selected: null, charts: [] };
    // Reserve the charts' height, so sections drawn as they scroll into view do not move the page.
    var S = seriesOf(f.id);
    if (S) box.style.minHeight = chartKinds(S).length * (CHART_HEIGHT + RESERVE_EXTRA) + "px";
    var fs = findingsByFlow.get(f.id) || [];
    if (fs.length) {
      var all = el("button", { type: "button", class: "chip on", dataset: { finding: "all" } }, "all findings");
      all.addEventListener("click", function () { selectFinding(s, null); });
      append(chips, all);
      fs.forEach(function (x) {
        var b = el("button", { type: "button", class: "chip", dataset: { finding: x.idx }, title: x.summary }, sevBadge(x.severity), " " + x.kind);
        b.addEventListener("click", function () { selectFinding(s, x.idx); });
        append(chips, b);
      });
    }
    sections.set(f.id, s);
    return s;
  }

  function placeSection(s) {
    // Keep sections in flow order.
    var after = null;
    sectionsBox.querySelectorAll("section.flow").forEach(function (n) { if (!after && Number(n.dataset.flow) > s.flow.id) after = n; });
    sectionsBox.insertBefore(s.el, after);
    if (observer) observer.observe(s.el); else renderFlowCharts(s);
  }

  function selectFinding(s, idx) {
    s.selected = idx;
    s.chips.querySelectorAll(".chip").forEach(function (c) { c.classList.toggle("on", c.dataset.finding === (idx === null ? "all" : String(idx))); });
    if (s.rendered) renderFlowCharts(s);
  }

  /** Shows (creating and drawing if needed) a flow's section, with one finding highlighted or all. */
  function showFlow(id, findingIdx) {
    var f = flowById.get(id);
    if (!f) return null;
    var s = sections.get(id);
    if (!s) { s = makeSection(f); placeSection(s); }
    s.selected = findingIdx === undefined ? null : findingIdx;
    selectFinding(s, s.selected);
    if (!s.rendered) renderFlowCharts(s);
    s.el.scrollIntoView({ block: "start", behavior: "instant" });
    // Sections above that draw as they come into view may still move it a little: settle.
    [120, 400].forEach(function (ms) { setTimeout(function () { s.el.scrollIntoView({ block: "start", behavior: "instant" }); }, ms); });
    s.el.classList.add("flash");
    setTimeout(function () { s.el.classList.remove("flash"); }, 1200);
    return s;
  }

  function chartWidth(box) {
    var w = box.clientWidth || (document.documentElement.clientWidth - 48);
    return Math.max(480, Math.min(1400, w - 4));
  }

  function renderFlowCharts(s) {
    s.charts.forEach(function (u) { u.destroy(); });
    s.charts = [];
    s.box.textContent = "";
    s.rendered = true;
    var f = s.flow, S = seriesOf(f.id);
    if (!S) {
      s.note.textContent = !DATA.hasSeries ? "No packet series in this report."
        : DATA.overBudget.indexOf(f.id) >= 0 ? "No graph: this flow is beyond the report's point budget (see the note on downsampling above)."
        : "No graph: the capture holds no TCP or UDP packet of this flow (it is known from ICMP errors quoting it).";
      return;
    }
    s.note.textContent = S.drawn < S.packets
      ? "Drawing " + num(S.drawn) + " of " + num(S.packets) + " packets (downsampled" + (S.collected < S.packets ? "; " + num(S.collected) + " were kept while reading" : "") + ")."
      : "Drawing all " + num(S.packets) + " packets.";
    var fs = findingsByFlow.get(f.id) || [];
    var sel = s.selected === null ? fs : fs.filter(function (x) { return x.idx === s.selected; });
    var hl = new Set();
    sel.forEach(function (x) { x.frames.forEach(function (fr) { hl.add(fr); }); });
    var band = null;
    if (s.selected !== null && sel.length) {
      var lo = Infinity, hi = -Infinity;
      for (var i = 0; i < S.n; i++) if (hl.has(S.frame[i])) { lo = Math.min(lo, S.x[i]); hi = Math.max(hi, S.x[i]); }
      if (lo === Infinity) { lo = hi = sel[0].time; }
      band = [lo, hi];
    }
    var ctx = { s: s, S: S, f: f, hl: hl, band: band, fs: fs, syncing: false };
    var w = chartWidth(s.box);
    var out = { seq: [], win: null, udp: null };
    chartKinds(S).forEach(function (k) {
      if (k === "udp") s.charts.push(out.udp = udpChart(ctx, w));
      else if (k === "win") s.charts.push(out.win = winChart(ctx, w));
      else s.charts.push(out.seq[k] = seqChart(ctx, k, w));
    });
    [0, 1].forEach(function (d) {
      if (!S.udp && !out.seq[d]) {
        s.note.textContent += " " + (d === 0 ? "Client \u2192 server" : "Server \u2192 client") + " carried no data: its acknowledgements and flags are in the other sequence graph.";
      }
    });
    s.box.style.minHeight = "";
    charts[f.id] = out;
  }

  /** Which charts a flow gets: a sequence graph per direction that carried data (the client's if none did), and the window graph. */
  function chartKinds(S) {
    if (S.udp) return ["udp"];
    var has = [false, false];
    for (var i = 0; i < S.n; i++) if (S.len[i] > 0) has[S.dir[i]] = true;
    var out = [];
    if (has[0] || !has[1]) out.push(0);
    if (has[1]) out.push(1);
    out.push("win");
    return out;
  }

  function frameLines(ctx, i) {
    var S = ctx.S, f = ctx.f, d = S.dir[i];
    var head = "frame " + S.frame[i] + "  " + (d === 0 ? "c\u2192s" : "s\u2192c") + "  at " + secs(S.x[i]);
    var lines = [head];
    if (S.udp) {
      lines.push("UDP " + num(S.len[i]) + " bytes (" + num(S.seq[i] + S.len[i]) + " bytes " + (d === 0 ? "client" : "server") + " \u2192 so far)");
    } else {
      lines.push("[" + flagString(S.flags[i]) + "] seq " + num(S.seq[i]) + (S.len[i] ? ":" + num(S.seq[i] + S.len[i]) : "") + "  len " + num(S.len[i]) +
        (S.hasAck[i] ? "  ack " + num(S.ack[i]) : ""));
      lines.push("window " + num(S.win[i]) + "  in flight " + num(S.inFlight[i]));
      if (S.old[i]) lines.push("old data: a retransmission, probe or keep-alive");
    }
    var ev = ctx.fs.filter(function (x) { return x.frames.indexOf(S.frame[i]) >= 0; }).map(function (x) { return x.kind; });
    if (ev.length) lines.push("cited by: " + ev.join(", "));
    lines.push(f.client + (d === 0 ? " \u2192 " : " \u2190 ") + f.server);
    return lines;
  }

  function commonOpts(ctx, title, w, yLabel) {
    return {
      width: w, height: CHART_HEIGHT, title: title,
      scales: { x: { time: false } },
      cursor: { drag: { x: true, y: true, uni: 30 }, sync: { key: "flow" + ctx.f.id }, points: { size: 7 } },
      legend: { live: false },
      axes: [
        { label: "seconds since the first packet of the capture", values: function (u, v) { return v.map(function (x) { return x === null ? "" : +x.toFixed(6) + ""; }); } },
        { label: yLabel, values: function (u, v) { return bytesAxis(v); }, size: axisSize },
      ],
      hooks: {
        setCursor: [function (u) {
          var i = u.cursor.idx;
          if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) { hideTip(); return; }
          var r = u.over.getBoundingClientRect();
          showTip(frameLines(ctx, i), r.left + u.cursor.left, r.top + u.cursor.top);
        }],
        setScale: [function (u, key) {
          if (key !== "x" || ctx.syncing) return;
          ctx.syncing = true;
          ctx.s.charts.forEach(function (o) { if (o !== u) o.setScale("x", { min: u.scales.x.min, max: u.scales.x.max }); });
          ctx.syncing = false;
        }],
        drawClear: [function (u) {
          if (!ctx.band) return;
          var c = u.ctx, b = u.bbox;
          var x0 = u.valToPos(ctx.band[0], "x", true), x1 = u.valToPos(ctx.band[1], "x", true);
          c.save();
          c.fillStyle = "rgba(242, 183, 5, 0.18)";
          c.fillRect(Math.max(b.left, x0 - 3), b.top, Math.min(b.left + b.width, x1 + 3) - Math.max(b.left, x0 - 3), b.height);
          c.restore();
        }],
      },
    };
  }

  var NOPATH = function () { return null; };
  function dots(label, color, size, fill) {
    return { label: label, stroke: color, paths: NOPATH, points: { show: true, size: size, width: 1, stroke: color, fill: fill || color } };
  }
  function stepLine(label, color, dash, width) {
    return { label: label, stroke: color, width: width || 1.5, dash: dash, spanGaps: true, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } };
  }
  function hlSeries() {
    return { label: "cited frames", stroke: C.hl, paths: NOPATH, points: { show: true, size: 13, width: 2.5, stroke: C.hl, fill: "rgba(0,0,0,0)" } };
  }
  function mount(ctx, cls, opts, data, dataset) {
    var holder = el("div", { class: "chart " + cls, dataset: Object.assign({ flow: ctx.f.id, points: ctx.S.n }, dataset || {}) });
    ctx.s.box.appendChild(holder);
    var u = new uPlot(opts, data, holder);
    u.over.addEventListener("mouseleave", hideTip);
    return u;
  }
  function nulls(n) { var a = new Array(n); for (var i = 0; i < n; i++) a[i] = null; return a; }

  /** Sequence graph of direction d's data, with the peer's acks and window. */
  function seqChart(ctx, d, w) {
    var S = ctx.S, n = S.n;
    var sent = nulls(n), old = nulls(n), ack = nulls(n), win = nulls(n), synfin = nulls(n), rst = nulls(n), hl = nulls(n);
    var lastAck = null, dataMax = 0, dataMin = Infinity;
    for (var i = 0; i < n; i++) {
      var fl = S.flags[i];
      if (S.dir[i] === d) {
        if (S.old[i]) old[i] = S.end[i];
        else if (S.len[i] > 0) sent[i] = S.end[i];
        if (fl & (TH_SYN | TH_FIN)) synfin[i] = S.end[i];
        if (fl & TH_RST) rst[i] = S.seq[i];
        if (ctx.hl.has(S.frame[i])) hl[i] = S.end[i];
        if (!(fl & TH_RST)) { dataMax = Math.max(dataMax, S.end[i]); dataMin = Math.min(dataMin, S.seq[i]); }
      } else {
        if (S.hasAck[i] && !(fl & TH_RST)) {
          ack[i] = lastAck = S.ack[i];
          win[i] = S.ack[i] + S.win[i];
          dataMax = Math.max(dataMax, S.ack[i]);
          dataMin = Math.min(dataMin, S.ack[i]);
        }
        if (fl & TH_RST) rst[i] = S.hasAck[i] ? S.ack[i] : lastAck;
        if (ctx.hl.has(S.frame[i])) hl[i] = S.hasAck[i] ? S.ack[i] : lastAck;
      }
    }
    if (dataMin === Infinity) dataMin = 0;
    var span = Math.max(dataMax - dataMin, 1);
    var who = d === 0 ? "client" : "server", peer = d === 0 ? "server" : "client";
    var opts = commonOpts(ctx, (d === 0 ? "client \u2192 server" : "server \u2192 client") + ": sequence numbers", w, "relative seq");
    opts.scales.y = { range: function (u, min, max) {
      // The window line may run far above the data: show at most a band above the highest byte.
      var top = Math.min(max, dataMax + Math.max(span * 0.35, 4));
      var bottom = Math.max(min, dataMin - span * 0.05);
      if (top - bottom < 2) { top = bottom + 2; }
      return [bottom, top + (top - bottom) * 0.03];
    } };
    opts.series = [
      { label: "time" },
      dots("data (" + who + ")", d === 0 ? C.client : C.server, 4),
      dots("old data", C.old, 6),
      stepLine("ack (" + peer + ")", C.ack, null, 1.5),
      stepLine(peer + " window: ack + win", C.win, [5, 4], 1.25),
      dots("SYN/FIN", C.syn, 8, "#fff"),
      { label: "RST", stroke: C.rst, paths: NOPATH, points: { show: true, size: 11, width: 2.5, stroke: C.rst, fill: "#fff" } },
      hlSeries(),
    ];
    return mount(ctx, "chart-seq chart-seq-" + (d === 0 ? "c2s" : "s2c"), opts, [S.x, sent, old, ack, win, synfin, rst, hl]);
  }

  /** Advertised windows and bytes in flight, both directions. */
  function winChart(ctx, w) {
    var S = ctx.S, n = S.n;
    var wc = nulls(n), ws = nulls(n), fc = nulls(n), fsv = nulls(n), zero = nulls(n), hl = nulls(n);
    var minC = null, minS = null;
    for (var i = 0; i < n; i++) {
      var fl = S.flags[i];
      var advert = !(fl & TH_RST);
      if (S.dir[i] === 0) {
        if (advert) { wc[i] = S.win[i]; }
        fc[i] = S.inFlight[i];
      } else {
        if (advert) { ws[i] = S.win[i]; }
        fsv[i] = S.inFlight[i];
      }
      if (advert && !(fl & TH_SYN) && S.win[i] === 0) zero[i] = 0;
      if (ctx.hl.has(S.frame[i])) hl[i] = S.win[i];
    }
    var opts = commonOpts(ctx, "advertised window and bytes in flight", w, "bytes");
    opts.scales.y = { range: function (u, min, max) { return [0, Math.max(max, 1) * 1.05]; } };
    opts.series = [
      { label: "time" },
      stepLine("client's window", C.client, null, 1.75),
      stepLine("server's window", C.server, null, 1.75),
      stepLine("in flight c\u2192s", C.client, [2, 3], 1),
      stepLine("in flight s\u2192c", C.server, [2, 3], 1),
      dots("zero window", C.zero, 7),
      hlSeries(),
    ];
    var data = [S.x, wc, ws, fc, fsv, zero, hl];
    // What was handed to the chart, for tests and curious readers.
    data[1].forEach(function (v) { if (v !== null && (minC === null || v < minC)) minC = v; });
    data[2].forEach(function (v) { if (v !== null && (minS === null || v < minS)) minS = v; });
    return mount(ctx, "chart-win", opts, data, { minWindowClient: minC === null ? "" : minC, minWindowServer: minS === null ? "" : minS, zeroWindows: zero.filter(function (v) { return v !== null; }).length });
  }

  /** UDP: bytes sent so far per direction. */
  function udpChart(ctx, w) {
    var S = ctx.S, n = S.n;
    var c = nulls(n), s = nulls(n), hl = nulls(n);
    for (var i = 0; i < n; i++) {
      (S.dir[i] === 0 ? c : s)[i] = S.end[i];
      if (ctx.hl.has(S.frame[i])) hl[i] = S.end[i];
    }
    var opts = commonOpts(ctx, "UDP: bytes sent so far, per direction", w, "bytes");
    opts.series = [{ label: "time" }, dots("client \u2192 server", C.client, 5), dots("server \u2192 client", C.server, 5), hlSeries()];
    return mount(ctx, "chart-udp", opts, [S.x, c, s, hl]);
  }

  // ------------------------------------------------------------------ start

  var charts = {};
  window.sockscope = { data: DATA, charts: charts, showFlow: showFlow, timeline: null };

  var initial = FLOWS.filter(function (f) { return findingsByFlow.has(f.id) && DATA.series[f.id]; }).slice(0, MAX_INITIAL_SECTIONS);
  initial.forEach(function (f) { placeSection(makeSection(f)); });
  if (initial.length === 0) append(sectionsBox, el("p", { class: "none", text: "No flow has findings; open any flow's graphs from the flow list." }));
  renderTimeline();
  append(app, el("footer", null, "sockscope HTML report \u00b7 self-contained: opens offline, loads nothing \u00b7 charts by uPlot (MIT)"));
  document.body.dataset.ready = "true";
})();
