/** Long operations report progress through this; the CLI draws it on a TTY. */
export interface ProgressSink {
  update(state: Readonly<Record<string, number | string>>): void;
}

export const noProgress: ProgressSink = { update: () => {} };

/** Cooperative cancellation for long operations. */
export interface CancelSignal {
  readonly cancelled: boolean;
}
