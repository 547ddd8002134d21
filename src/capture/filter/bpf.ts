/**
 * Classic BPF, as libpcap's bpf_filter() runs it: the programs libpcap's compiler emits
 * for capture filters ("tcp port 5020"), run here over each packet record's bytes.
 *
 * A program is 8-byte instructions {code, jt, jf, k}. Jumps only go forward, so a run
 * takes at most one step per instruction. As in the kernel and libpcap, a load outside
 * the captured bytes, a division by zero or an unknown instruction ends the run with 0:
 * the packet is rejected, never an exception. `validateBpf` does what bpf_validate()
 * does (jump targets inside the program, scratch-memory indices, constant divisors,
 * a final return), so a program that passes it is safe to run; `runBpf` still checks
 * everything itself, so even an unvalidated program cannot throw or loop.
 */

export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export type BpfProgram = readonly BpfInstruction[];

// Instruction classes and fields (bpf.h).
const CLASS = 0x07,
  LD = 0x00,
  LDX = 0x01,
  ST = 0x02,
  STX = 0x03,
  ALU = 0x04,
  JMP = 0x05,
  RET = 0x06,
  MISC = 0x07;
const W = 0x00,
  H = 0x08,
  B = 0x10;
const MODE = 0xe0,
  IMM = 0x00,
  ABS = 0x20,
  IND = 0x40,
  MEM = 0x60,
  LEN = 0x80,
  MSH = 0xa0;
const OP = 0xf0,
  ADD = 0x00,
  SUB = 0x10,
  MUL = 0x20,
  DIV = 0x30,
  OR = 0x40,
  AND = 0x50,
  LSH = 0x60,
  RSH = 0x70,
  NEG = 0x80,
  MOD = 0x90,
  XOR = 0xa0;
const JA = 0x00,
  JEQ = 0x10,
  JGT = 0x20,
  JGE = 0x30,
  JSET = 0x40;
const SRC = 0x08,
  X_SRC = 0x08;
const RET_A = 0x10,
  RET_X = 0x08;
const TAX = 0x00,
  TXA = 0x80;
/** Scratch memory words (BPF_MEMWORDS). */
export const BPF_MEMWORDS = 16;
/** libpcap's and Linux's limit on program length (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/**
 * Parses the decimal dump `tcpdump -ddd` prints: the instruction count on the first line,
 * then "code jt jf k" per line. Returns null when the text is not such a dump.
 */
export function parseBpfDump(text: string): BpfProgram | null {
  const lines = text
    .trim()
    .split("\n")
    .map((l) => l.trim());
  const count = Number(lines[0]);
  if (!Number.isInteger(count) || count !== lines.length - 1) return null;
  const program: BpfInstruction[] = [];
  for (const line of lines.slice(1)) {
    const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(line);
    if (m === null) return null;
    const [code, jt, jf, k] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    if (code > 0xffff || jt > 0xff || jf > 0xff || k > 0xffffffff) return null;
    program.push({ code, jt, jf, k });
  }
  return program;
}

/** Why the program would be unsafe or meaningless to run (as bpf_validate), or null if it is fine. */
export function validateBpf(program: BpfProgram): string | null {
  const n = program.length;
  if (n === 0 || n > BPF_MAXINSNS) return `a program has 1 to ${BPF_MAXINSNS} instructions, not ${n}`;
  for (let pc = 0; pc < n; pc++) {
    const { code, jt, jf, k } = program[pc]!;
    const at = `instruction ${pc}`;
    switch (code & CLASS) {
      case LD:
      case LDX:
        if ((code & MODE) === MEM && k >= BPF_MEMWORDS) return `${at}: scratch memory index ${k}`;
        if (!isKnown(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
        break;
      case ST:
      case STX:
        if (!isKnown(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
        if (k >= BPF_MEMWORDS) return `${at}: scratch memory index ${k}`;
        break;
      case ALU:
        if (!isKnown(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
        if ((code & SRC) !== X_SRC && ((code & OP) === DIV || (code & OP) === MOD) && k === 0)
          return `${at}: division by a constant 0`;
        if ((code & SRC) !== X_SRC && ((code & OP) === LSH || (code & OP) === RSH) && k >= 32)
          return `${at}: shift by ${k}`;
        break;
      case JMP:
        if (!isKnown(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
        if ((code & OP) === JA) {
          if (k >= n - pc - 1) return `${at}: jump past the end`;
        } else if (pc + 1 + Math.max(jt, jf) >= n) return `${at}: jump past the end`;
        break;
      case RET:
      case MISC:
        if (!isKnown(code)) return `${at}: unknown opcode 0x${code.toString(16)}`;
        break;
    }
  }
  if ((program[n - 1]!.code & CLASS) !== RET) return "the last instruction is not a return";
  return null;
}

const KNOWN = new Set<number>([
  LD | W | ABS,
  LD | H | ABS,
  LD | B | ABS,
  LD | W | IND,
  LD | H | IND,
  LD | B | IND,
  LD | W | LEN,
  LD | IMM,
  LD | MEM,
  LDX | W | LEN,
  LDX | IMM,
  LDX | MEM,
  LDX | MSH | B,
  RET | 0x00,
  RET | RET_A,
  RET | RET_X,
  MISC | TAX,
  MISC | TXA,
  JMP | JA,
  ALU | NEG,
]);
for (const op of [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR]) KNOWN.add(ALU | op).add(ALU | op | X_SRC);
for (const op of [JEQ, JGT, JGE, JSET]) KNOWN.add(JMP | op).add(JMP | op | X_SRC);
KNOWN.add(ST).add(STX);

function isKnown(code: number): boolean {
  return KNOWN.has(code);
}

const SCRATCH = new Uint32Array(BPF_MEMWORDS);

/**
 * Runs `program` over `pkt[start, end)` (the captured bytes; `wireLen` is the length on
 * the wire, what BPF_LEN loads). Returns the program's result as an unsigned 32-bit
 * number: 0 rejects the packet, anything else keeps it (a snap length, for a kernel).
 */
export function runBpf(program: BpfProgram, pkt: Uint8Array, start: number, end: number, wireLen: number): number {
  const n = program.length;
  const capLen = end - start;
  const mem = SCRATCH.fill(0); // one array for every run (runs never nest): no allocation per packet
  let A = 0,
    X = 0;
  // pc only grows (every jump is forward), so the loop runs at most n times.
  for (let pc = 0; pc < n; pc++) {
    const ins = program[pc]!;
    const k = ins.k >>> 0;
    switch (ins.code) {
      case RET:
        return k;
      case RET | RET_A:
        return A;
      case RET | RET_X:
        return X;
      case LD | W | ABS:
        if (k > capLen - 4 || capLen < 4) return 0;
        A = word(pkt, start + k);
        break;
      case LD | H | ABS:
        if (k > capLen - 2 || capLen < 2) return 0;
        A = (pkt[start + k]! << 8) | pkt[start + k + 1]!;
        break;
      case LD | B | ABS:
        if (k >= capLen) return 0;
        A = pkt[start + k]!;
        break;
      case LD | W | IND: {
        const at = X + k;
        if (at > capLen - 4 || capLen < 4) return 0;
        A = word(pkt, start + at);
        break;
      }
      case LD | H | IND: {
        const at = X + k;
        if (at > capLen - 2 || capLen < 2) return 0;
        A = (pkt[start + at]! << 8) | pkt[start + at + 1]!;
        break;
      }
      case LD | B | IND: {
        const at = X + k;
        if (at >= capLen) return 0;
        A = pkt[start + at]!;
        break;
      }
      case LD | W | LEN:
        A = wireLen >>> 0;
        break;
      case LDX | W | LEN:
        X = wireLen >>> 0;
        break;
      case LDX | MSH | B:
        if (k >= capLen) return 0;
        X = (pkt[start + k]! & 0xf) << 2;
        break;
      case LD | IMM:
        A = k;
        break;
      case LDX | IMM:
        X = k;
        break;
      case LD | MEM:
        if (k >= BPF_MEMWORDS) return 0;
        A = mem[k]!;
        break;
      case LDX | MEM:
        if (k >= BPF_MEMWORDS) return 0;
        X = mem[k]!;
        break;
      case ST:
        if (k >= BPF_MEMWORDS) return 0;
        mem[k] = A;
        break;
      case STX:
        if (k >= BPF_MEMWORDS) return 0;
        mem[k] = X;
        break;
      case JMP | JA:
        pc += k;
        break;
      case JMP | JGT:
        pc += A > k ? ins.jt : ins.jf;
        break;
      case JMP | JGE:
        pc += A >= k ? ins.jt : ins.jf;
        break;
      case JMP | JEQ:
        pc += A === k ? ins.jt : ins.jf;
        break;
      case JMP | JSET:
        pc += (A & k) !== 0 ? ins.jt : ins.jf;
        break;
      case JMP | JGT | X_SRC:
        pc += A > X ? ins.jt : ins.jf;
        break;
      case JMP | JGE | X_SRC:
        pc += A >= X ? ins.jt : ins.jf;
        break;
      case JMP | JEQ | X_SRC:
        pc += A === X ? ins.jt : ins.jf;
        break;
      case JMP | JSET | X_SRC:
        pc += (A & X) !== 0 ? ins.jt : ins.jf;
        break;
      case ALU | NEG:
        A = -A >>> 0;
        break;
      case MISC | TAX:
        X = A;
        break;
      case MISC | TXA:
        A = X;
        break;
      default: {
        if ((ins.code & CLASS) !== ALU) return 0; // unknown instruction: reject, as libpcap
        const v = (ins.code & SRC) === X_SRC ? X : k;
        const r = alu(ins.code & OP, A, v);
        if (r < 0) return 0;
        A = r;
      }
    }
  }
  return 0; // ran off the end without a return
}

/** A op v on unsigned 32-bit numbers; -1 when the operation rejects the packet (divide by 0, unknown). */
function alu(op: number, A: number, v: number): number {
  switch (op) {
    case ADD:
      return (A + v) >>> 0;
    case SUB:
      return (A - v) >>> 0;
    case MUL:
      return Math.imul(A, v) >>> 0;
    case DIV:
      return v === 0 ? -1 : Math.floor(A / v) >>> 0;
    case MOD:
      return v === 0 ? -1 : (A % v) >>> 0;
    case AND:
      return (A & v) >>> 0;
    case OR:
      return (A | v) >>> 0;
    case XOR:
      return (A ^ v) >>> 0;
    // libpcap: a shift by 32 or more gives 0 (C leaves it undefined; JS would take it mod 32).
    case LSH:
      return v < 32 ? (A << v) >>> 0 : 0;
    case RSH:
      return v < 32 ? A >>> v : 0;
    default:
      return -1;
  }
}

function word(p: Uint8Array, i: number): number {
  return ((p[i]! << 24) | (p[i + 1]! << 16) | (p[i + 2]! << 8) | p[i + 3]!) >>> 0;
}
