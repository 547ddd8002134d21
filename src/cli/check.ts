/**
 * `sockscope check`: holds captures to their expectations files, for CI. Exit 0 when
 * every capture meets its expectations, 1 when one does not, 2 on usage errors,
 * unreadable captures and invalid expectations files (one line naming the file and the
 * JSON path). `--update` writes the expectations from what is found now (a baseline).
 */
import { CHECK_HELP } from "./help-texts.js";
import { existsSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { expandCaptureInputs, isGlob } from "../run/captures/inputs.js";
import { runCaptures } from "../run/captures/pool.js";
import { parseCommandArgs } from "./args.js";
import { PLAIN, styleFor } from "../report/style.js";
import { ManyProgress, Progress } from "./progress.js";
import { Output } from "./output.js";
import {
  checkTarget,
  directoryTargets,
  expectPathFor,
  isDirectory,
  summarize,
  UnreadableCapture,
  updateTarget,
  type CaptureCheck,
  type Target,
  type UpdateOutcome,
} from "../check/run.js";
import { renderCaptureText, renderJson, renderJunit, renderSummaryText, renderUpdateText } from "../check/render.js";

import { EXIT_CHECK_FAILED as EXIT_FAILED, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";

class Usage extends Error {}

function targetsFor(
  positionals: string[],
  expect: string | undefined,
  update: boolean,
  root: string | undefined,
): { targets: Target[]; dirs: string[] } {
  if (positionals.length === 0)
    throw new Usage("check: which capture? give a capture file, or a directory of captures and their expectations");
  if (expect !== undefined && (positionals.length !== 1 || isDirectory(positionals[0]!))) {
    throw new Usage("check: --expect goes with exactly one capture file");
  }
  const targets: Target[] = [];
  const dirs: string[] = [];
  for (const p of positionals) {
    // A glob the shell left alone (quoted, or matching nothing): its captures, as bash would expand it.
    if (p !== "-" && !existsSync(p) && isGlob(p)) {
      const found = expandCaptureInputs([p]);
      if (found.captures.length === 0) throw new Usage(`check: ${found.skipped[0]}`);
      // As in a directory, a capture without expectations is listed as not checked.
      for (const c of found.captures) {
        const x = expect ?? expectPathFor(c);
        targets.push({ capture: c, expect: existsSync(x) ? x : null });
      }
    } else if (p !== "-" && isDirectory(p)) {
      dirs.push(p);
      targets.push(...directoryTargets(p, root ?? p));
    } else {
      if (p === "-" && expect === undefined) throw new Usage("check: reading standard input needs --expect FILE");
      targets.push({ capture: p, expect: expect ?? expectPathFor(p) });
    }
  }
  if (update && positionals.includes("-") && positionals.length > 1)
    throw new Usage("check: standard input goes alone");
  // The same capture named twice (or found under two given directories) is checked once.
  const seen = new Set<string>();
  return {
    targets: targets.filter((t) => {
      const k = `${t.capture}\0${t.expect}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    }),
    dirs,
  };
}

export async function checkCommand(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>, positionals: string[];
  try {
    ({ values: v, positionals } = parseCommandArgs("check", args, {
      expect: { type: "string", short: "e" },
      root: { type: "string" },
      update: { type: "boolean", short: "u" },
      format: { type: "string", short: "F" },
      output: { type: "string", short: "o" },
      quiet: { type: "boolean", short: "q" },
      progress: { type: "boolean" },
      jobs: { type: "string", short: "j" },
      "no-color": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }));
  } catch (e) {
    return usage((e as Error).message);
  }
  if (v.help) {
    process.stdout.write(CHECK_HELP + "\n");
    return EXIT_OK;
  }
  try {
    const format = (v.format as string | undefined) ?? "text";
    if (!["text", "json", "junit"].includes(format)) throw new Usage("--format must be one of text, json, junit");
    const update = v.update === true;
    if (update && (format !== "text" || v.output !== undefined))
      throw new Usage("check: --update prints what it wrote as text; --format and --output are for checking");
    const root = v.root as string | undefined;
    if (root !== undefined && !isDirectory(root)) throw new Usage(`--root ${root}: not a directory`);
    const { targets, dirs } = targetsFor(positionals, v.expect as string | undefined, update, root);
    const st = styleFor(process.stdout, v["no-color"] === true);
    const single = targets.length === 1 && dirs.length === 0;
    const progress = new Progress(single && process.stderr.isTTY === true && !v.quiet);
    const out = new Output();

    if (update) {
      const outcomes: UpdateOutcome[] = [];
      for (const t of targets) {
        if (t.expect === null) continue;
        const u = await updateTarget(t, { onProgress: progress.update });
        progress.done();
        outcomes.push(u);
        out.line(renderUpdateText(u, st));
      }
      const unpaired = targets.filter((t) => t.expect === null);
      if (unpaired.length > 0) {
        out.line(
          st.dim(
            `${unpaired.length} capture${unpaired.length === 1 ? "" : "s"} without an expectations file left alone (write one with: sockscope check <capture> --update)`,
          ),
        );
      }
      if (outcomes.length === 0) {
        await out.end();
        return usage(
          `check: no expectations files under ${dirs.join(", ")}; write one with: sockscope check <capture> --update`,
        );
      }
      await out.end();
      if (outcomes.some((u) => u.status === "error")) return EXIT_USAGE;
      return outcomes.some((u) => !u.update!.after.ok) ? EXIT_FAILED : EXIT_OK;
    }

    const results: CaptureCheck[] = [];
    const text: string[] = [];
    const checks = single
      ? [await checkTarget(targets[0]!, { onProgress: progress.update })]
      : await checkMany(targets, v);
    progress.done();
    for (const r of checks) {
      results.push(r);
      // One capture that cannot be checked gets the one-line error on stderr only.
      if (single && r.status === "error") continue;
      const block = renderCaptureText(r, {
        style: format === "text" && v.output === undefined ? st : PLAIN,
        verbose: single,
      });
      if (block !== "") text.push(block);
    }
    const s = summarize(results);
    if (s.captures === 0) {
      return usage(
        `check: no expectations files under ${dirs.join(", ")}; write one with: sockscope check <capture> --update`,
      );
    }
    if (!(single && s.errors > 0))
      text.push(renderSummaryText(results, format === "text" && v.output === undefined ? st : PLAIN));
    const report =
      format === "json" ? renderJson(results) : format === "junit" ? renderJunit(results) : text.join("\n");
    if (v.output !== undefined) {
      writeFileSync(v.output as string, report + "\n");
      if (format !== "text") for (const block of text) out.line(block);
    } else if (report !== "") {
      out.line(report);
    }
    await out.end();
    if (single || format !== "text" || v.output !== undefined) {
      for (const r of results) if (r.status === "error") process.stderr.write(`sockscope: ${r.error}\n`);
    }
    if (s.errors > 0) return EXIT_USAGE;
    return s.failed > 0 ? EXIT_FAILED : EXIT_OK;
  } catch (e) {
    if (e instanceof Usage) return usage(e.message);
    throw e;
  }
}

/**
 * Many captures checked at once: each analysed whole by one of --jobs worker threads
 * (default one per core, as analyze), its report matched against its expectations as it
 * arrives and then let go, so one report at a time is held; the results in target order.
 */
async function checkMany(targets: Target[], v: Record<string, string | boolean | undefined>): Promise<CaptureCheck[]> {
  let jobs = availableParallelism();
  if (v.jobs !== undefined) {
    if (!/^\d+$/.test(v.jobs as string) || Number(v.jobs) < 1)
      throw new Usage(`--jobs takes a whole number (1 or more), not "${String(v.jobs)}"`);
    jobs = Math.min(Number(v.jobs), jobs);
  }
  // Only captures there is something to check them against are read.
  const readable = (t: Target) => t.expect !== null && t.error === undefined && existsSync(t.capture);
  const files = [...new Set(targets.filter(readable).map((t) => t.capture))];
  const byCapture = new Map<string, Promise<CaptureCheck>[]>();
  const mode = v.quiet ? "off" : process.stderr.isTTY ? "tty" : v.progress ? "lines" : "off";
  const progress = new ManyProgress(mode);
  await runCaptures(
    files,
    { engine: {}, filter: null, count: null, flowFilter: {}, output: "report" },
    {
      jobs,
      onProgress: progress.update,
      onOutcome: (i, o) => {
        const source = async () => {
          if (o.report === null) throw new UnreadableCapture(o.error ?? `${o.file}: not read`);
          return o.report;
        };
        byCapture.set(
          files[i]!,
          targets.filter((t) => t.capture === files[i] && readable(t)).map((t) => checkTarget(t, {}, source)),
        );
      },
    },
  );
  progress.done();
  const taken = new Map<string, number>();
  return Promise.all(
    targets.map((t) => {
      const pending = readable(t) ? byCapture.get(t.capture) : undefined;
      if (pending === undefined) return checkTarget(t);
      const k = taken.get(t.capture) ?? 0;
      taken.set(t.capture, k + 1);
      return pending[k]!;
    }),
  );
}

function usage(message: string): number {
  process.stderr.write(`sockscope: ${message} (see sockscope check --help)\n`);
  return EXIT_USAGE;
}
