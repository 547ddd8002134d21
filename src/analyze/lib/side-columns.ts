/**
 * Per-side analyzer state in typed columns (issue 17). An analyzer that keeps the same
 * record for each side of every open connection declares it as an object of initial
 * values; each field becomes a column (a number a Float64Array, or a Uint32Array for the
 * fields the analyzer names as frame numbers, counters or raw sequence numbers; a flag a
 * Uint8Array; anything else a plain array), and a connection's state is a slot number handed out when the analyzer's
 * state is created and given back when the flow's analysis is over (AnalyzerDescriptor:
 * freeState). The analyzer reads a slot through `pair(slot)`: two views, client's and
 * server's side, with a getter and setter per field, so its code reads `me.count++` as
 * it would a plain object.
 *
 * Why: as objects, every open connection paid a State, a two-element array and two
 * records of 15 fields, and a boxed double for each field holding a time: about 430
 * bytes an analyzer. In columns a time costs 8 bytes a side, a frame number or counter 4,
 * a flag 1. A number is stored as the same double the field held (or, in a 32-bit
 * column, the same integer), so the analyzer computes exactly what it did before.
 *
 * The views are positioned by `pair`: valid until the next `pair` call on these
 * columns, so an analyzer takes them at the top of each hook and keeps none across calls.
 */

/** The per-side record: field name → initial value. */
export type SideRecord = Record<string, number | boolean | string | object | null>;

/** Sides in a slot: client, server. */
const SIDES = 2;

export class SideColumns<R extends SideRecord> {
  /** Columns of the number and boolean fields (booleans as 0 and 1), by field number. */
  private numbers: (Float64Array | Uint32Array | Uint8Array)[] = [];
  private readonly numberInitial: number[] = [];
  /** Columns of the other fields (arrays, strings, objects). */
  private readonly others: unknown[][] = [];
  private readonly otherInitial: unknown[] = [];
  private capacity = 0;
  private used = 0;
  private readonly freed: number[] = [];
  private readonly views: readonly [R, R];

  /**
   * `uint32`: the number fields that only ever hold integers from 0 to 2^32 − 1 (frame
   * numbers, counts of packets, raw sequence numbers): 4 bytes a side instead of 8.
   */
  constructor(initial: R, opts: { uint32?: readonly (keyof R & string)[] } = {}) {
    const uint32 = new Set<string>(opts.uint32 ?? []);
    for (const name of uint32)
      if (!(typeof initial[name] === "number" && (initial[name] as number) >>> 0 === initial[name]))
        throw new Error(
          `side column ${name}: only a number field starting at an integer from 0 to 2^32 − 1 can be uint32`,
        );
    // One class per record, so each analyzer's views have one map of their own and the
    // getters are inlined at every use.
    const View = class {
      i = 0;
    };
    for (const [name, value] of Object.entries(initial)) {
      let get: (this: { i: number }) => unknown, set: (this: { i: number }, v: never) => void;
      if (typeof value === "number" || typeof value === "boolean") {
        const j = this.numberInitial.length;
        this.numberInitial.push(Number(value));
        this.numbers.push(
          typeof value === "boolean" ? new Uint8Array(0) : uint32.has(name) ? new Uint32Array(0) : new Float64Array(0),
        );
        const columns = this;
        if (typeof value === "boolean") {
          get = function (this: { i: number }) {
            return columns.numbers[j]![this.i] !== 0;
          };
          set = function (this: { i: number }, v: boolean) {
            columns.numbers[j]![this.i] = v ? 1 : 0;
          };
        } else {
          get = function (this: { i: number }) {
            return columns.numbers[j]![this.i];
          };
          set = function (this: { i: number }, v: number) {
            columns.numbers[j]![this.i] = v;
          };
        }
      } else {
        this.otherInitial.push(value);
        const column: unknown[] = [];
        this.others.push(column);
        get = function (this: { i: number }) {
          return column[this.i];
        };
        set = function (this: { i: number }, v: unknown) {
          column[this.i] = v;
        };
      }
      Object.defineProperty(View.prototype, name, { get, set, enumerable: true });
    }
    this.views = [new View() as unknown as R, new View() as unknown as R];
  }

  /** A new slot, both sides at their initial values. */
  take(): number {
    let slot = this.freed.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (this.used * SIDES > this.capacity) this.grow(Math.max(32, 2 * this.capacity));
    }
    for (let side = slot * SIDES; side < (slot + 1) * SIDES; side++) {
      for (let j = 0; j < this.numbers.length; j++) this.numbers[j]![side] = this.numberInitial[j]!;
      for (let j = 0; j < this.others.length; j++) this.others[j]![side] = this.otherInitial[j];
    }
    return slot;
  }

  /** Gives `slot` back: its arrays and strings are let go, the slot is reused. */
  free(slot: number): void {
    for (let side = slot * SIDES; side < (slot + 1) * SIDES; side++)
      for (let j = 0; j < this.others.length; j++) this.others[j]![side] = this.otherInitial[j];
    this.freed.push(slot);
  }

  /** The client's and the server's side of `slot`, indexable by direction (see the note above on how long they hold). */
  pair(slot: number): readonly [R, R] {
    const v = this.views as unknown as [{ i: number }, { i: number }];
    v[0].i = slot * SIDES;
    v[1].i = slot * SIDES + 1;
    return this.views;
  }

  private grow(capacity: number): void {
    this.numbers = this.numbers.map((old) => {
      const column = new (old.constructor as new (length: number) => typeof old)(capacity);
      column.set(old as never);
      return column;
    });
    this.capacity = capacity;
  }
}
