/**
 * The HTML report of many captures: one page with the table of captures and each
 * capture's own page (render.ts, rendered by the worker that analysed it) in a sandboxed
 * frame (`srcdoc`): every page keeps its own script, data and Content-Security-Policy,
 * unchanged. The outer page runs no script and loads nothing; it has no policy of its own
 * because a srcdoc frame inherits its parent's, which would then forbid the frames' scripts.
 */
import { combinedCapture, type CombinedRun } from "../combined.js";
import { renderCaptureTable } from "../combined-text.js";
import { escapeHtml } from "./render.js";

export function renderCombinedHtml(run: CombinedRun, generator: string): string {
  const captures = run.outcomes.map((o, i) => combinedCapture(o, run.hosts[i] ?? null));
  const sections = run.outcomes.map((o, i) => {
    const c = captures[i]!;
    const about = [c.host === null ? "" : `host ${c.host}`, c.contentHash === null ? "" : `sha256 ${c.contentHash}`]
      .filter((x) => x !== "")
      .join(", ");
    const body =
      o.html === null
        ? `<p class="error">not read: ${escapeHtml(o.error ?? "")}</p>`
        : `<iframe sandbox="allow-scripts" title="${escapeHtml(o.file)}" srcdoc="${escapeHtml(o.html)}"></iframe>`;
    return `<section id="capture-${i + 1}"><h2>${i + 1}. ${escapeHtml(o.file)}</h2><p class="about">${escapeHtml(about)}</p>${body}</section>`;
  });
  const skipped =
    run.warnings.length === 0
      ? ""
      : `<h2>Skipped</h2><ul>${run.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join("")}</ul>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="${escapeHtml(generator)}">
<title>sockscope: ${captures.length} captures</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1em 2em; }
pre { font-size: 13px; }
iframe { width: 100%; height: 85vh; border: 1px solid #ccc; }
.error { color: #b00; }
.about { color: #555; font-family: monospace; }
</style>
</head>
<body>
<h1>sockscope: ${captures.length} captures</h1>
<pre>${escapeHtml(renderCaptureTable(captures))}</pre>
<nav>${captures.map((c, i) => `<a href="#capture-${i + 1}">${i + 1}. ${escapeHtml(c.file)}</a>`).join(" · ")}</nav>
${skipped}
${sections.join("\n")}
</body>
</html>`;
}
