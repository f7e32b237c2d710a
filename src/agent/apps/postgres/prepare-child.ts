/** Child of prepareAsOwner: prepares a recovered cluster as its owner; the answer (or the error) is one line of JSON. */
import { CustosError } from '../../../base/index.js';
import { prepareRecoveredCluster, type RecoveredClusterSettings } from './recovered-cluster.js';

try {
  const { root, settings } = JSON.parse(process.argv[2] ?? '{}') as { root: string; settings: RecoveredClusterSettings };
  process.stdout.write(JSON.stringify({ data: prepareRecoveredCluster(root, settings) }));
} catch (e) {
  process.stderr.write(`${JSON.stringify({ code: e instanceof CustosError ? e.code : 'io', message: (e as Error).message })}\n`);
  process.exitCode = 1;
}
