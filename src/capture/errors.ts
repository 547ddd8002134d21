/**
 * Capture-format errors (tier 1 of the bad-input policy): the file's structure is broken
 * at a known byte offset. Readers throw these; the caller reports them as one line and
 * keeps what was read before the damage. `offset` is null when the file could not be
 * opened (missing, a directory, no permission): no byte of it was read to be at fault.
 */
export class CaptureError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number | null,
    readonly problem: string,
  ) {
    super(offset === null ? `${file}: ${problem}` : `${file}: offset ${offset}: ${problem}`);
    this.name = "CaptureError";
  }
}

/** Formats a one-line warning the same way a CaptureError reads. */
export function atOffset(file: string, offset: number, problem: string): string {
  return `${file}: offset ${offset}: ${problem}`;
}
