import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatScope, hasTargetScopes, parseScope, targetScopeRefusal, type Principal, type Scope } from './principal.js';

const operator = (...scopes: string[]): Principal => ({
  kind: 'token', tokenId: 1, name: 'dba', role: 'recovery-operator', expiresAt: null, scopes: scopes.map((s) => parseScope(s)!),
});

test('scopes: groups, sources, and where a recovery-operator may recover to; anything else is none', () => {
  const cases: Array<[string, Scope]> = [
    ['group:office', { kind: 'group', name: 'office' }],
    ['source:db1:postgres:5432', { kind: 'source', id: 'db1:postgres:5432' }],
    ['target:test1:/srv/restores', { kind: 'target-folder', agent: 'test1', path: '/srv/restores' }],
    ['target:test1:postgres:5499', { kind: 'target-instance', agent: 'test1', port: 5499 }],
    ['target:test1:postgres:*', { kind: 'target-instance', agent: 'test1', port: null }],
  ];
  for (const [text, scope] of cases) {
    assert.deepEqual(parseScope(text), scope);
    assert.equal(formatScope(scope), text);
  }
  // A folder is normalized (.., trailing slash) before it is compared.
  assert.deepEqual(parseScope('target:test1:/srv/x/../restores/'), { kind: 'target-folder', agent: 'test1', path: '/srv/restores' });
  for (const bad of ['target:', 'target:test1', 'target:test1:srv', 'target:test1:postgres:0', 'target:test1:postgres:65536', 'target:test1:postgres:05432', 'target:a/b:/x', 'target:test1:/a\0b', 'target:test1:/a\nb', 'target:te\u001bst:/x', 'people:ann']) {
    assert.equal(parseScope(bad), null, bad);
  }
});

test("a DBA's target scopes: folders at or under its directories, instances on its agents and ports, its own cluster over itself", () => {
  const dba = operator('source:db1:postgres:5432', 'target:test1:/srv/restores', 'target:test1:postgres:*', 'target:db1:postgres:5432');
  assert.equal(hasTargetScopes(dba), true);
  assert.equal(hasTargetScopes(operator('group:office')), false);
  assert.equal(targetScopeRefusal(dba, { kind: 'folder', agent: 'test1', path: '/srv/restores' }), null);
  assert.equal(targetScopeRefusal(dba, { kind: 'folder', agent: 'test1', path: '/srv/restores/db1-monday' }), null);
  assert.match(targetScopeRefusal(dba, { kind: 'folder', agent: 'test1', path: '/srv/restores-other' }) ?? '', /is outside this recovery-operator's target scopes/);
  assert.match(targetScopeRefusal(dba, { kind: 'folder', agent: 'db1', path: '/srv/restores' }) ?? '', /db1:\/srv\/restores is outside/);
  assert.equal(targetScopeRefusal(dba, { kind: 'instance', agent: 'test1', port: 5499, path: '/srv/restores/i1' }), null);
  assert.match(targetScopeRefusal(dba, { kind: 'instance', agent: 'test1', port: 5499, path: '/var/lib/x' }) ?? '', /the new instance's folder test1:\/var\/lib\/x is outside/);
  assert.match(targetScopeRefusal(dba, { kind: 'instance', agent: 'db1', port: 5499, path: '/srv/restores/i1' }) ?? '', /a new instance on db1 port 5499 is outside/);
  assert.equal(targetScopeRefusal(dba, { kind: 'original', source: 'db1:postgres:5432' }), null);
  const noOriginal = operator('source:db1:postgres:5432', 'target:test1:/srv/restores');
  assert.match(targetScopeRefusal(noOriginal, { kind: 'original', source: 'db1:postgres:5432' }) ?? '', /needs the target scope target:db1:postgres:5432/);
  assert.match(targetScopeRefusal(noOriginal, { kind: 'instance', agent: 'test1', port: 5499, path: '/srv/restores/i1' }) ?? '', /a new instance on test1 port 5499 is outside this recovery-operator's target scopes \(target:test1:\/srv\/restores\)/);
  // A root folder scope is every folder of that agent.
  assert.equal(targetScopeRefusal(operator('group:g', 'target:test1:/'), { kind: 'folder', agent: 'test1', path: '/anything' }), null);
});
