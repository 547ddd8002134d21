/** Why a live capture could not start or had to stop: one line for the user, no stack. */
export class LiveError extends Error {
  constructor(
    message: string,
    readonly kind: "missing" | "permission" | "interface" | "filter" | "failed" = "failed",
  ) {
    super(message);
  }
}
