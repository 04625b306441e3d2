/** `gatehouse validate`'s policy check: every policy document of the config parsed and compiled as `start` would. */
import type { GatewayConfig, Problem } from '../../config/types.js';
import { backendsOf, compileServerPolicies } from '../../mcp/server-policies.js';
import { createRegistry } from '../../policies/registry.js';
import { PolicyError } from '../../policy/errors.js';

export async function checkPolicies(config: GatewayConfig): Promise<Problem[]> {
  try {
    compileServerPolicies(config, createRegistry(), { backends: backendsOf(config) });
    return [];
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    return err.problems.map((p) => ({ file: p.file ?? config.file ?? '<config>', line: p.line, col: p.col, message: p.message }));
  }
}
