/**
 * A clock that moves only when the test moves it, for the job engine: its
 * scheduler ticks once per clock minute, at the first dispatch in it.
 */
import type { Clock } from '../../src/base/index.js';

export class FakeClock implements Clock {
  constructor(private time: Date) {}

  now(): Date {
    return this.time;
  }

  set(time: Date): void {
    this.time = time;
  }

  /**
   * Moves to `time` and runs `engine`'s dispatch, so the scheduler tick of
   * that minute has run when this resolves. A dispatch kicked earlier has
   * finished first: one runs on promises alone, within an event-loop turn.
   */
  async tick(engine: { dispatch(): Promise<void> }, time: Date): Promise<void> {
    this.time = time;
    const turn = () => new Promise((r) => setImmediate(r));
    await turn();
    await engine.dispatch();
    await turn();
  }
}
