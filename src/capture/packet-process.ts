/**
 * A packet's sending process as pcapng writers record it (capture/record.ts
 * PacketProcess): the draft's epb_processid_threadid option (code 8: pid then tid, 32 bits
 * each in the section's byte order, 0 = unknown) and the packet comment process-aware
 * capture tools write, "PID: 4242\nCmd: python3\nArgs: python3 server.py" (ptcpdump, and
 * sockscope live -w). The option's pid wins when both are there and differ; the comment
 * gives the command. Text is bounded and made printable. The draft's process is the
 * packet's originator; a packet marked inbound by its epb_flags carries its receiver's
 * (ptcpdump tags received packets with the local program), and says so (`inbound`).
 */
import type { PacketProcess } from "./record.js";

export const OPT_COMMENT = 1;
export const OPT_EPB_FLAGS = 2;
export const OPT_EPB_PROCESSID_THREADID = 8;
/** epb_flags bits 0-1: 01 inbound, 10 outbound, 00 not known. */
export const EPB_FLAGS_INBOUND = 1;
/** Longest command or argument text kept. */
const MAX_TEXT = 256;

const utf8 = new TextDecoder("utf-8");

function field(text: string, name: string): string {
  const m = new RegExp(`^${name}: ?(.*)$`, "m").exec(text);
  if (m === null) return "";
  const v = m[1]!.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ").trim();
  return v.length <= MAX_TEXT ? v : `${v.slice(0, MAX_TEXT - 1)}…`;
}

/** What a packet's options say of its process; null when they name none. */
export function packetProcess(
  optionPid: number,
  tid: number,
  comment: Uint8Array | null,
  inbound = false,
): PacketProcess | null {
  let pid = optionPid,
    command = "",
    args = "";
  if (comment !== null) {
    const text = utf8.decode(comment);
    const m = /^PID: ?(\d+)\s*$/m.exec(text);
    if (m !== null) {
      const commentPid = Number(m[1]);
      if (pid === 0) pid = commentPid;
      // A comment about another process than the option's says nothing of this one.
      if (commentPid === pid) {
        command = field(text, "Cmd");
        args = field(text, "Args");
      }
    }
  }
  if (pid === 0 || pid > 0xffffffff) return null;
  return { pid, tid, command, args, inbound };
}
