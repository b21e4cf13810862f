/**
 * The library API of the `mcpgov` package (README: Install): the sidecar middleware that governs an
 * MCP SDK client's transport in-process, the config loader, and the offline evidence verifier.
 * Subpaths carry the same names by area: `mcpgov/sidecar`, `mcpgov/config`, `mcpgov/evidence`.
 */
export {
  startSidecar,
  type GovernOptions,
  type Sidecar,
  type SidecarOptions,
} from './mcp-sidecar/sidecar.js';
export { GovernedTransport, type GovernedTransportOptions } from './mcp-sidecar/governed-transport.js';
export { checkConfig, loadConfig, resolveConfig, type ResolvedConfig } from './src/config/load-config.js';
export { ConfigError, formatProblem, type Problem } from './src/config/yaml-file.js';
export type { Config } from './src/config/schema.js';
export {
  formatFailure,
  verifyLogDir,
  type ApprovalTrail,
  type VerifyFailure,
  type VerifyReport,
} from './src/evidence/verify.js';
export { VERSION } from './src/util/version.js';
