/**
 * Who may import whom (docs/architecture.md). Each rule's comment is the
 * message you see when you break it: it says why.
 */
const layer = (name) => `^src/${name}/`;
const allowed = {
  base: [],
  format: ['base'],
  pool: ['base', 'format'],
  catalog: ['base'],
  protection: ['base'],
  jobs: ['base', 'protection'],
  protocol: ['base', 'format'],
  agent: ['base', 'format', 'protocol', 'protection'],
  longterm: ['base', 'format', 'pool'],
  standalone: ['base', 'format', 'pool', 'agent', 'protection'],
  server: ['base', 'format', 'pool', 'catalog', 'protection', 'jobs', 'protocol', 'agent', 'longterm'],
  // protection: the pure rules, for `plan storage` without a server (docs/architecture.md).
  cli: ['base', 'protocol', 'protection', 'standalone', 'server', 'agent'],
};

const layerRules = Object.entries(allowed).map(([from, to]) => ({
  name: `layer-${from}`,
  comment:
    `src/${from} may import only ${to.length ? to.map((t) => `src/${t}`).join(', ') : 'nothing of ours'}: ` +
    'layers point down so each can be tested and reused on its own (the agent runs without the pool, the pool without the server).',
  severity: 'error',
  from: { path: layer(from) },
  to: { path: '^src/', pathNot: [layer(from), ...to.map(layer)] },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'base-is-portable',
      comment: 'src/base runs everywhere (browser console included): no node:* modules there; put runtime specifics in the layer that needs them.',
      severity: 'error',
      from: { path: '^src/base/', pathNot: '\\.test\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'rest-contract-is-portable',
      comment: 'src/protocol/rest is bundled into the browser console: no node:* modules at run time there (type-only imports are erased).',
      severity: 'error',
      from: { path: '^src/protocol/rest/', pathNot: '\\.test\\.ts$' },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'console-talks-rest-only',
      comment: 'The console talks only to the REST API: it may import the contract (src/protocol/rest) and nothing else of the server side.',
      severity: 'error',
      from: { path: '^console/' },
      to: { path: '^src/', pathNot: '^src/protocol/rest/' },
    },
    {
      name: 'no-cycles',
      comment: 'A cycle makes two modules one: neither can be understood, tested or replaced alone.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'tests-stay-out-of-src',
      comment: 'Production code must not depend on tests or benchmarks.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(test|bench)/|\\.test\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
