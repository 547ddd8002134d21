/**
 * The many-capture HTML report: one page with each capture's own page (render.ts, rendered
 * by the worker that analysed it) in a sandboxed frame (`srcdoc`), written a capture at a
 * time, and the table of captures at the end: every page keeps its own script, data and
 * Content-Security-Policy, unchanged. The outer page runs no script and loads nothing; it
 * has no policy of its own because a srcdoc frame inherits its parent's, which would then
 * forbid the frames' scripts.
 */
import type { CombinedWriter } from "../combined.js";
import { renderCaptureTable } from "../combined-text.js";
import { escapeHtml } from "./render.js";

export function htmlWriter(generator: string): CombinedWriter {
  return {
    begin: (total) => [
      `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${escapeHtml(generator)}">
<title>sockscope: ${total} captures</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em 2em; }
pre { font-size: 13px; }
iframe { width: 100%; height: 85vh; border: 1px solid #ccc; }
.error { color: #b00; }
.about { color: #555; font-family: monospace; }
</style>
</head>
<body>
<h1>sockscope: ${total} captures</h1>
<p>Each capture's report below; the table of captures at the <a href="#captures">end</a>.</p>`,
    ],
    capture: (o, i) => {
      const row = o.row;
      const about = [
        row.host === null ? "" : `host ${row.host}`,
        row.contentHash === null ? "" : `sha256 ${row.contentHash}`,
      ]
        .filter((x) => x !== "")
        .join(", ");
      const body =
        o.part === null
          ? `<p class="error">not read: ${escapeHtml(o.error ?? "")}</p>`
          : `<iframe sandbox="allow-scripts" title="${escapeHtml(o.file)}" srcdoc="${escapeHtml(o.part.join("\n"))}"></iframe>`;
      return [
        `<section id="capture-${i + 1}"><h2>${i + 1}. ${escapeHtml(o.file)}</h2><p class="about">${escapeHtml(about)}</p>${body}</section>`,
      ];
    },
    end: (rows, skipped) => [
      `<h2 id="captures">Captures</h2>
<pre>${escapeHtml(renderCaptureTable(rows))}</pre>
${skipped.length === 0 ? "" : `<h2>Skipped</h2><ul>${skipped.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>`}
</body>
</html>`,
    ],
  };
}
