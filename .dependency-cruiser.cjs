// The layering rules docs/ARCHITECTURE.md states, checked on every `npm test`.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle hides which module depends on which.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'cores-are-pure',
      comment: 'src/gossip, src/election and src/jobs hold sans-IO cores: no Node built-ins, no bindings.',
      severity: 'error',
      from: { path: '^src/(gossip|election|jobs)/' },
      to: { pathNot: '^src/(gossip|election|jobs|util)/|^node_modules/zod/' },
    },
    {
      name: 'sim-runs-cores-not-the-daemon',
      comment: 'The simulator binds the cores itself; calibration alone drives the real mesh to measure it.',
      severity: 'error',
      from: { path: '^sim/', pathNot: '^sim/calibrate\\.ts$' },
      to: { path: '^src/node/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|node_modules)/' },
  },
}
