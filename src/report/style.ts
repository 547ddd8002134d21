/** Terminal colours: on only for a TTY, off with NO_COLOR (https://no-color.org) or --no-color. */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
export const COLOR: Style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};
const id = (s: string) => s;
export const PLAIN: Style = { bold: id, dim: id, red: id, yellow: id, cyan: id };

export function styleFor(stream: NodeJS.WriteStream, forceOff: boolean): Style {
  if (forceOff || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "")) return PLAIN;
  return stream.isTTY ? COLOR : PLAIN;
}
