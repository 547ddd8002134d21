/**
 * What `sockscope check` prints: text for people (a diff: expected, found, where, with
 * frames), JSON for tools (schema "sockscope.check/1"), JUnit XML for CI systems.
 */
import { PLAIN, type Style } from "../report/style.js";
import { inlineJson } from "./baseline.js";
import { findingText, whereText, type CheckItem, type Problem } from "./match.js";
import { expectPathFor, summarize, type CaptureCheck, type UpdateOutcome } from "./run.js";

export const CHECK_SCHEMA = "sockscope.check/1";

// ---------------------------------------------------------------- text

export interface TextOptions {
  style?: Style;
  /** Also list the checks that passed (done when one capture is checked). */
  verbose?: boolean;
}

function problemLines(p: Problem, st: Style, where = true): string[] {
  const out: string[] = [];
  if (p.what === "absent" || p.what === "unexpected finding") {
    out.push(`      found: ${st.bold(p.found)}`);
  } else {
    out.push(`      ${p.what}: expected ${st.bold(p.expected)}, found ${st.bold(p.found)}`);
  }
  if (p.finding !== undefined && where) {
    out.push(`        where: ${whereText(p.finding)}`);
    if (p.what !== "absent") out.push(st.dim(`        ${p.finding.summary}`));
  }
  return out;
}

function checkLines(c: CheckItem, st: Style, verbose: boolean): string[] {
  const out: string[] = [];
  if (c.ok) {
    if (!verbose) return out;
    const n = c.findings.length;
    const where =
      c.type === "expect"
        ? ` — ${n} finding${n === 1 ? "" : "s"}${n > 0 ? ": " : ""}${c.findings
            .slice(0, 3)
            .map((f) => whereText(f, 5, true))
            .join("; ")}${n > 3 ? "; …" : ""}`
        : "";
    out.push(`  ${st.cyan("✓")} ${c.id}  ${c.label}${st.dim(where)}`);
    return out;
  }
  const name = c.type === "unexpected" ? "unexpected" : c.id;
  const label = c.type === "unexpected" ? findingText(c.findings[0]!) : c.label;
  out.push(`  ${st.red("✗")} ${st.bold(name)}  ${label}`);
  if (c.type === "unexpected") {
    const f = c.findings[0]!;
    out.push(`        where: ${whereText(f)}`);
    out.push(`        ${f.summary}`);
    if (c.suggestion !== undefined) out.push(st.dim(`        expect it with: ${inlineJson(c.suggestion)}`));
    return out;
  }
  // Several problems with one finding: say where it is once, after the last of them.
  c.problems.forEach((p, i) => {
    out.push(...problemLines(p, st, p.finding === undefined || c.problems[i + 1]?.finding !== p.finding));
  });
  if (c.type === "expect" && c.problems.some((p) => p.what === "findings")) {
    for (const f of c.findings.slice(0, 5)) out.push(`        chosen: ${whereText(f, 5)}`);
    if (c.findings.length > 5) out.push(`        … and ${c.findings.length - 5} more`);
    for (const f of c.nearby.slice(0, 5)) out.push(`        not chosen: ${findingText(f)} at ${whereText(f, 5)}`);
    if (c.nearby.length > 5) out.push(`        … and ${c.nearby.length - 5} more of that kind`);
    if (c.findings.length === 0 && c.nearby.length === 0)
      out.push(`        the capture has no ${/^[^\s,]+/.exec(c.label)![0]} finding`);
  }
  return out;
}

export function renderCaptureText(r: CaptureCheck, opts: TextOptions = {}): string {
  const st = opts.style ?? PLAIN;
  const out: string[] = [];
  if (r.status === "unchecked") return "";
  if (r.status === "error") {
    out.push(`${st.red(st.bold("ERROR"))} ${r.capture}`);
    out.push(`  ${r.error}`);
    return out.join("\n");
  }
  const res = r.result!;
  // Counted as the JUnit report counts: each expect and absent entry, and in strict mode
  // one check that nothing unexpected was found.
  const entries = res.checks.filter((c) => c.type !== "unexpected");
  const unexpected = res.checks.length - entries.length;
  const total = entries.length + (res.strict ? 1 : 0);
  const failed = entries.filter((c) => !c.ok).length + (unexpected > 0 ? 1 : 0);
  const head = r.status === "pass" ? st.cyan(st.bold("PASS")) : st.red(st.bold("FAIL"));
  const count = r.status === "pass" ? `${total} check${total === 1 ? "" : "s"}` : `${failed} of ${total} checks failed`;
  const named =
    r.expectations !== null && r.expectations !== expectPathFor(r.capture) ? `; expectations ${r.expectations}` : "";
  out.push(`${head} ${r.capture === "-" ? "(stdin)" : r.capture}  ${st.dim(`(${count}${named})`)}`);
  if (r.status === "fail" || opts.verbose) {
    for (const c of entries) out.push(...checkLines(c, st, opts.verbose === true));
    if (res.strict && unexpected === 0 && opts.verbose) out.push(`  ${st.cyan("✓")} no unexpected findings`);
    out.push(
      ...unexpectedLines(
        res.checks.filter((x) => x.type === "unexpected"),
        st,
      ),
    );
    if (res.allowed.length > 0 && opts.verbose) {
      out.push(
        st.dim(
          `  allowed: ${res.allowed.length} finding${res.allowed.length === 1 ? "" : "s"} (${[...new Set(res.allowed.map((f) => f.kind))].join(", ")})`,
        ),
      );
    }
    for (const f of res.uncovered) {
      out.push(st.yellow(`  ! not accounted for (strict is off): ${findingText(f)} at ${whereText(f, 5)}`));
    }
  }
  for (const w of r.warnings) out.push(st.yellow(`  warning: ${w}`));
  return out.join("\n");
}

/**
 * The unexpected findings: one failed check, so one ✗ line, as the count above says (and
 * as JUnit's "no unexpected findings" testcase); past one, each is listed under it.
 */
function unexpectedLines(checks: CheckItem[], st: Style): string[] {
  if (checks.length <= 1) return checks.flatMap((c) => checkLines(c, st, false));
  const out = [`  ${st.red("✗")} ${st.bold("unexpected")}  ${checks.length} findings that no entry expects or allows:`];
  for (const c of checks) {
    const [first, ...rest] = checkLines(c, st, false);
    out.push(`    - ${first!.replace(/^ {2}\S+ \S+ {2}/, "")}`, ...rest.map((l) => `  ${l}`));
  }
  return out;
}

export function renderSummaryText(results: CaptureCheck[], st: Style = PLAIN): string {
  const s = summarize(results);
  const out: string[] = [];
  const unchecked = results.filter((r) => r.status === "unchecked");
  if (unchecked.length > 0) {
    const shown = unchecked
      .slice(0, 3)
      .map((r) => r.capture)
      .join(", ");
    out.push(
      st.dim(
        `not checked (no expectations file): ${unchecked.length} capture${unchecked.length === 1 ? "" : "s"}: ${shown}${unchecked.length > 3 ? ", …" : ""}`,
      ),
    );
  }
  const failing = results.filter((r) => r.status === "fail");
  if (failing.length > 0) {
    const f = failing[0]!;
    const which =
      failing.length > 1
        ? "<capture>"
        : f.expectations !== null && f.expectations !== expectPathFor(f.capture)
          ? `${f.capture} --expect ${f.expectations}`
          : f.capture;
    out.push(`If the new behaviour is right, accept it with: sockscope check ${which} --update (and review the diff)`);
  }
  let line = `${s.captures} capture${s.captures === 1 ? "" : "s"} checked: ${s.passed} passed, ${s.failed} failed`;
  if (s.errors > 0) line += `, ${s.errors} error${s.errors === 1 ? "" : "s"}`;
  out.push(s.failed + s.errors > 0 ? st.red(line) : line);
  return out.join("\n");
}

export function renderUpdateText(u: UpdateOutcome, st: Style = PLAIN): string {
  if (u.status === "error") return `${st.red(st.bold("ERROR"))} ${u.capture}\n  ${u.error}`;
  const up = u.update!;
  const total = up.kept + up.added.length;
  const n = `${total} expectation${total === 1 ? "" : "s"}`;
  const out: string[] = [];
  if (u.status === "unchanged") {
    out.push(`unchanged ${u.expectations}  (${n})`);
  } else if (u.created) {
    out.push(`wrote ${u.expectations}  (${n})`);
  } else if (up.added.length + up.removed.length === 0) {
    out.push(`rewrote ${u.expectations}  (${n}, same entries: layout and order only)`);
  } else {
    out.push(
      `updated ${u.expectations}  (${n}: ${up.added.length} new, ${up.removed.length} removed, ${up.kept} kept)`,
    );
  }
  for (const r of up.removed) out.push(st.red(`  - ${r.text}`) + st.dim(`  (${r.why})`));
  for (const a of up.added) out.push(st.cyan(`  + ${a}`));
  for (const c of up.after.checks.filter((x) => !x.ok)) {
    out.push(...checkLines(c, st, false));
    if (c.type === "absent")
      out.push(`        --update does not accept what an absent rule forbids: change the rule by hand if it is wrong`);
  }
  for (const w of u.warnings) out.push(st.yellow(`  warning: ${w}`));
  return out.join("\n");
}

// ---------------------------------------------------------------- JSON

export function renderJson(results: CaptureCheck[]): string {
  const s = summarize(results);
  return JSON.stringify(
    {
      schema: CHECK_SCHEMA,
      ok: s.failed === 0 && s.errors === 0,
      summary: s,
      results: results.map((r) => ({
        capture: r.capture,
        expectations: r.expectations,
        status: r.status,
        error: r.error,
        warnings: r.warnings,
        checks: r.result?.checks ?? [],
        allowed: r.result?.allowed ?? [],
        uncovered: r.result?.uncovered ?? [],
      })),
    },
    null,
    2,
  );
}

// ---------------------------------------------------------------- JUnit

/** Text safe in XML 1.0 attributes and content: escaped, characters XML cannot hold dropped. */
export function xmlEscape(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
      .replace(/[\ud800-\udfff]/g, (c, i: number, all: string) => {
        const code = c.charCodeAt(0);
        const next = all.charCodeAt(i + 1),
          prev = all.charCodeAt(i - 1);
        if (code < 0xdc00 && next >= 0xdc00 && next <= 0xdfff) return c;
        if (code >= 0xdc00 && prev >= 0xd800 && prev < 0xdc00) return c;
        return "";
      })
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&apos;")
  );
}

/** "fixtures/nagle-delay/ipv4.pcap" → "fixtures.nagle-delay.ipv4": Jenkins reads the dots as package and class. */
function className(capture: string): string {
  return capture
    .replace(/^\.\//, "")
    .replace(/\.(pcapng|pcap|cap)$/i, "")
    .replace(/\./g, "_")
    .replace(/[/\\]+/g, ".");
}

function failureText(c: CheckItem): string {
  const lines: string[] = [];
  for (const p of c.problems) {
    lines.push(
      p.what === "absent" || p.what === "unexpected finding"
        ? `found: ${p.found}`
        : `${p.what}: expected ${p.expected}, found ${p.found}`,
    );
    if (p.finding !== undefined) lines.push(`  where: ${whereText(p.finding, 50)}`, `  ${p.finding.summary}`);
  }
  for (const f of c.nearby.slice(0, 5)) lines.push(`not chosen: ${findingText(f)} at ${whereText(f, 10)}`);
  return lines.join("\n");
}

function firstProblem(c: CheckItem): string {
  const p = c.problems[0]!;
  const text =
    p.what === "absent" || p.what === "unexpected finding"
      ? `${p.what === "absent" ? "forbidden" : "unexpected"}: ${p.found}`
      : `${p.what}: expected ${p.expected}, found ${p.found}`;
  return c.problems.length > 1 ? `${text} (and ${c.problems.length - 1} more)` : text;
}

/**
 * JUnit XML as GitHub Actions reporters, GitLab and Jenkins read it: one testsuite per
 * capture, one testcase per expect and absent entry, and one "no unexpected findings"
 * testcase per capture in strict mode (so test names stay the same from run to run).
 * Errors are <error>, captures without expectations <skipped>.
 */
export function renderJunit(results: CaptureCheck[]): string {
  const suites: string[] = [];
  let tests = 0,
    failures = 0,
    errors = 0,
    skipped = 0;
  for (const r of results) {
    const cls = xmlEscape(className(r.capture));
    const cases: string[] = [];
    let sf = 0,
      se = 0,
      ss = 0;
    if (r.status === "error") {
      cases.push(
        `    <testcase classname="${cls}" name="expectations">\n      <error message="${xmlEscape(r.error ?? "")}" type="error"/>\n    </testcase>`,
      );
      se++;
    } else if (r.status === "unchecked") {
      cases.push(
        `    <testcase classname="${cls}" name="expectations">\n      <skipped message="no expectations file"/>\n    </testcase>`,
      );
      ss++;
    } else {
      const res = r.result!;
      const file = r.expectations === null ? "" : ` file="${xmlEscape(r.expectations)}"`;
      for (const c of res.checks.filter((x) => x.type !== "unexpected")) {
        const name = xmlEscape(`${c.id} ${c.label}`);
        if (c.ok) {
          cases.push(`    <testcase classname="${cls}" name="${name}"${file}/>`);
        } else {
          sf++;
          cases.push(
            `    <testcase classname="${cls}" name="${name}"${file}>\n      <failure message="${xmlEscape(firstProblem(c))}" type="${c.type}">${xmlEscape(failureText(c))}</failure>\n    </testcase>`,
          );
        }
      }
      const unexpected = res.checks.filter((x) => x.type === "unexpected");
      if (unexpected.length > 0) {
        sf++;
        const body = unexpected
          .map((c) => {
            const f = c.findings[0]!;
            return `${findingText(f)}\n  where: ${whereText(f, 50)}\n  ${f.summary}`;
          })
          .join("\n");
        const msg = `${unexpected.length} unexpected finding${unexpected.length === 1 ? "" : "s"}: ${unexpected.map((c) => c.findings[0]!.kind).join(", ")}`;
        cases.push(
          `    <testcase classname="${cls}" name="no unexpected findings"${file}>\n      <failure message="${xmlEscape(msg)}" type="unexpected">${xmlEscape(body)}</failure>\n    </testcase>`,
        );
      } else if (res.strict) {
        cases.push(`    <testcase classname="${cls}" name="no unexpected findings"${file}/>`);
      }
      for (const w of r.warnings) cases.push(`    <!-- warning: ${xmlEscape(w).replace(/--/g, "- -")} -->`);
    }
    const n = cases.filter((c) => c.trimStart().startsWith("<testcase")).length;
    tests += n;
    failures += sf;
    errors += se;
    skipped += ss;
    const props =
      r.expectations === null
        ? ""
        : `\n    <properties>\n      <property name="expectations" value="${xmlEscape(r.expectations)}"/>\n    </properties>`;
    suites.push(
      `  <testsuite name="${xmlEscape(r.capture)}" tests="${n}" failures="${sf}" errors="${se}" skipped="${ss}">${props}\n${cases.join("\n")}\n  </testsuite>`,
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sockscope check" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}">\n${suites.join("\n")}\n</testsuites>`;
}
