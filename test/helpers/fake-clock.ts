/**
 * A clock that moves only when the test moves it, for the job engine: its
 * scheduler ticks once per clock minute, at the first dispatch in it.
 */
import { ManualClock } from '../../src/base/index.js';

export class FakeClock extends ManualClock {
  /**
   * Moves to `time` and runs `engine`'s dispatch, so the scheduler tick of
   * that minute has run when this resolves. A dispatch kicked earlier has
   * finished first: one runs on promises alone, within an event-loop turn.
   */
  async tick(engine: { dispatch(): Promise<void> }, time: Date): Promise<void> {
    this.set(time);
    const turn = () => new Promise((r) => setImmediate(r));
    await turn();
    await engine.dispatch();
    await turn();
  }
}
