/**
 * The capture programs sockscope runs (tcpdump, for live capture and to compile capture
 * filters), found the same way for both: $SOCKSCOPE_TCPDUMP if set, else the first
 * executable on PATH or in sbin (Debian and Fedora put tcpdump there, often not in a
 * user's PATH).
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const SBIN = ["/usr/sbin", "/sbin", "/usr/local/sbin"];

/** The tcpdump to run, or null if there is none. */
export function findTcpdump(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SOCKSCOPE_TCPDUMP !== undefined) return isExecutable(env.SOCKSCOPE_TCPDUMP) ? env.SOCKSCOPE_TCPDUMP : null;
  for (const dir of [...(env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...SBIN]) {
    const p = join(dir, "tcpdump");
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
