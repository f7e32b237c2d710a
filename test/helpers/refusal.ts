/** The CustosError a promise is rejected with; fails the test when it resolves or throws something else. */
import assert from 'node:assert/strict';
import { CustosError } from '../../src/base/index.js';

export async function refusal(p: Promise<unknown>, what = 'resolved, expected an error'): Promise<CustosError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CustosError, String(err));
    return err;
  }
  assert.fail(what);
}
