/**
 * The layering of mcpgov's code, checked by `npm run check` (dependency-cruiser). An import may only
 * point to its own layer or one below; the README's Architecture section explains each layer.
 */

/**
 * Bottom up: layers as the README names them, each an ordered list of folders (path patterns over the
 * repository-relative path). A module may import its own folder or any folder listed before its own,
 * never one after it: layers point down, and the order inside a layer rules out cycles between folders.
 */
const LAYERS = [
  { layer: 'core', folders: ['^src/util/', '^src/core/'] },
  { layer: 'config', folders: ['^src/config/'] },
  {
    layer: 'components',
    // src/policy's own files (rules, policy set); its lifecycle folders run a bundle's tests through
    // the pipeline, so they sit in the next layer.
    folders: [
      '^src/flow/',
      '^src/evidence/',
      '^src/registry/',
      '^src/identity/',
      '^src/semantic/',
      '^src/policy/[^/]+$',
    ],
  },
  {
    layer: 'decisions',
    folders: [
      '^src/pipeline/',
      '^src/policy/bundle/',
      '^src/policy/release/',
      '^src/policy/runtime/',
      '^src/approvals/',
      '^src/metrics/',
      '^src/evals/',
    ],
  },
  { layer: 'enforcement', folders: ['^src/transport/', '^src/control/', '^src/pep/'] },
  { layer: 'entry points', folders: ['^mcp-gateway/|^mcp-sidecar/'] },
  { layer: 'cli', folders: ['^src/cli/'] },
];

const ORDER = LAYERS.flatMap(({ layer, folders }) => folders.map((folder) => ({ layer, folder })));

const layerRules = ORDER.slice(0, -1).map(({ layer, folder }, i) => ({
  name: `layers: ${folder}`,
  comment: `${folder} (${layer}) imports only itself and the folders listed before it`,
  severity: 'error',
  from: { path: folder },
  to: {
    path: ORDER.slice(i + 1)
      .map((f) => f.folder)
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'sidecar-not-gateway',
      comment: 'the sidecar and the gateway share the kernel in src/, never each other',
      severity: 'error',
      from: { path: '^mcp-sidecar/' },
      to: { path: '^mcp-gateway/' },
    },
    {
      name: 'gateway-not-sidecar',
      severity: 'error',
      from: { path: '^mcp-gateway/' },
      to: { path: '^mcp-sidecar/' },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: { path: '^(src|mcp-gateway|mcp-sidecar)/' },
      // A cycle through a type-only import does not exist at run time.
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      // index.ts (beside package.json) is the package's library entry: it re-exports names from every
      // layer up to the entry points, so it sits above them all, outside the layers, and nothing imports it.
      name: 'package-entry-on-top',
      severity: 'error',
      from: { path: '^(src|mcp-gateway|mcp-sidecar)/' },
      to: { path: '^index\\.ts$' },
    },
    {
      name: 'src-not-tests',
      comment: 'shipped code never imports test code',
      severity: 'error',
      from: { path: '^(src|mcp-gateway|mcp-sidecar)/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|demo|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
