import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { digest } from '../evidence/hash.js';
import type { z } from 'zod';
import {
  AgentsFileSchema,
  PolicyFileSchema,
  ToolsFileSchema,
  type AgentsFile,
  type RuleSource,
  type ToolEntry,
  type ToolsFile,
} from '../config/schema.js';
import { ConfigError, YamlFile, type Problem } from '../config/yaml-file.js';
import { AgentRegistry, ToolRegistry } from '../registry/registries.js';
import { compileLogic, type CompiledLogic } from './json-logic.js';
import { compileRules, type CompiledRule } from './rules.js';

/** Which policy is deciding: cited by every decision record. */
export interface BundleRef {
  name: string;
  revision: string;
  /** `sha256:` over the canonical form of everything that decides (registries and rules). */
  digest: string;
}

/** Everything stage 1 decides with, loaded and compiled once, then swapped as a whole. */
export interface PolicySet {
  tools: ToolRegistry;
  agents: AgentRegistry;
  rules: CompiledRule[];
  /** Compiled outcome checks of the tool entries that declare one. */
  outcomes: Map<ToolEntry, OutcomeCheck>;
  bundle: BundleRef;
}

/** A tool's declared outcome check, compiled. */
export interface OutcomeCheck {
  description: string;
  logic: CompiledLogic;
}

/** Folders to load a policy set from. */
export interface PolicySources {
  registries: string;
  policies: string;
}

/** A parsed source file: a YAML file in `registries/` or `policies/`, or a JSON file of a bundle. */
export interface PolicyDocument {
  readonly file: string;
  lineOf(path: readonly PropertyKey[], keyOnly?: boolean): number | undefined;
  validate<S extends z.ZodType>(schema: S): { value?: z.infer<S>; problems: Problem[] };
}

/** The documents a policy set compiles from; a missing registry was already reported as a problem. */
export interface PolicyDocuments {
  tools?: PolicyDocument;
  agents?: PolicyDocument;
  /** Rule files, in the order their rules are evaluated and listed. */
  rules: PolicyDocument[];
}

/** Validated contents of a policy set's documents: exactly what a bundle stores. */
export interface PolicyData {
  tools: ToolsFile;
  agents: AgentsFile;
  rules: { file: string; rules: RuleSource[] }[];
}

/** Loads registries and rule files and checks them together; problems are collected, never thrown. */
export async function readPolicySet(
  src: PolicySources,
): Promise<{ policy?: PolicySet; data?: PolicyData; problems: Problem[] }> {
  const problems: Problem[] = [];
  const read = async (file: string) => {
    const { yaml, problems: syntax } = await YamlFile.read(file);
    problems.push(...syntax);
    return yaml;
  };
  const docs: PolicyDocuments = {
    tools: await read(path.join(src.registries, 'tools.yaml')),
    agents: await read(path.join(src.registries, 'agents.yaml')),
    rules: [],
  };
  for (const file of await listPolicyFiles(src.policies, problems)) {
    const doc = await read(file);
    if (doc) docs.rules.push(doc);
  }
  return compilePolicyDocuments(docs, problems, (data) => ({
    name: 'sources',
    revision: 'unversioned',
    digest: digest({ tools: data.tools, agents: data.agents, rules: data.rules.flatMap((f) => f.rules) }),
  }));
}

/**
 * Validates and compiles documents into a policy set, checking references between them. `problems`
 * collects everything wrong (syntax problems found while reading may already be in it); a policy set
 * comes back only when there are none. `bundleOf` names the policy set from its validated data.
 */
export function compilePolicyDocuments(
  docs: PolicyDocuments,
  problems: Problem[],
  bundleOf: (data: PolicyData) => BundleRef,
): { policy?: PolicySet; data?: PolicyData; problems: Problem[] } {
  const toolsYaml = docs.tools && validated(docs.tools, ToolsFileSchema, problems);
  const agentsYaml = docs.agents && validated(docs.agents, AgentsFileSchema, problems);

  const ruleSources: { rule: RuleSource; location: string }[] = [];
  const ruleFiles = new Map<string, { yaml: PolicyDocument; index: number }>();
  const ruleData: PolicyData['rules'] = [];
  for (const doc of docs.rules) {
    const parsed = validated(doc, PolicyFileSchema, problems);
    if (parsed) ruleData.push({ file: doc.file, rules: parsed.value.rules });
    parsed?.value.rules.forEach((rule, index) => {
      const location = `${doc.file}#${index}`;
      ruleSources.push({ rule, location });
      ruleFiles.set(location, { yaml: parsed.yaml, index });
    });
  }
  const compiled = compileRules(ruleSources);
  for (const p of compiled.problems) {
    const at = ruleFiles.get(p.location);
    const key = p.path.split(/[.[]/)[0] ?? 'when';
    problems.push({
      file: at?.yaml.file ?? p.location,
      line: at?.yaml.lineOf(['rules', at.index, key]),
      path: at ? `rules[${at.index}].${p.path}` : p.path,
      message: p.message,
    });
  }
  if (!toolsYaml || !agentsYaml) return { problems };

  const outcomes = new Map<ToolEntry, OutcomeCheck>();
  toolsYaml.value.tools.forEach((entry, i) => {
    if (!entry.outcome) return;
    const compiled = compileLogic(entry.outcome.check);
    if (compiled.ok) outcomes.set(entry, { description: entry.outcome.description, logic: compiled.logic });
    else {
      for (const p of compiled.problems) {
        problems.push({
          file: toolsYaml.yaml.file,
          line: toolsYaml.yaml.lineOf(['tools', i, 'outcome', 'check']),
          path: `tools[${i}].outcome.check${p.path ? `.${p.path}` : ''}`,
          message: p.message,
        });
      }
    }
  });
  const tools = new ToolRegistry(toolsYaml.value);
  const agents = new AgentRegistry(agentsYaml.value);
  problems.push(...crossCheck(tools, agents, toolsYaml.yaml, agentsYaml.yaml));
  if (problems.length > 0) return { problems };

  const data: PolicyData = { tools: toolsYaml.value, agents: agentsYaml.value, rules: ruleData };
  return {
    policy: { tools, agents, rules: compiled.rules, outcomes, bundle: bundleOf(data) },
    data,
    problems,
  };
}

/** Like readPolicySet, but throws ConfigError when anything is wrong. */
export async function loadPolicySet(src: PolicySources): Promise<PolicySet> {
  const { policy, problems } = await readPolicySet(src);
  if (!policy) throw new ConfigError(problems);
  return policy;
}

function validated<S extends z.ZodType>(yaml: PolicyDocument, schema: S, problems: Problem[]) {
  const { value, problems: invalid } = yaml.validate(schema);
  problems.push(...invalid);
  return value === undefined ? undefined : { yaml, value: value as z.infer<S> };
}

/** Rule files are the `*.yaml` / `*.yml` files directly in the policies folder (tests live below it). */
async function listPolicyFiles(dir: string, problems: Problem[]): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
      .map((e) => path.join(dir, e.name))
      .sort();
  } catch (err) {
    problems.push({ file: dir, path: '', message: `cannot read policies folder: ${(err as Error).message}` });
    return [];
  }
}

/** References between files: group members, agents' groups, duplicate names. */
function crossCheck(
  tools: ToolRegistry,
  agents: AgentRegistry,
  toolsYaml: PolicyDocument,
  agentsYaml: PolicyDocument,
): Problem[] {
  const problems: Problem[] = [];
  const seenTools = new Set<string>();
  tools.file.tools.forEach((entry, i) => {
    if (seenTools.has(entry.name)) {
      problems.push({
        file: toolsYaml.file,
        line: toolsYaml.lineOf(['tools', i, 'name']),
        path: `tools[${i}].name`,
        message: `duplicate tool entry "${entry.name}"`,
      });
    }
    seenTools.add(entry.name);
  });
  for (const [group, members] of Object.entries(tools.file.groups)) {
    members.forEach((member, i) => {
      if (!tools.memberKnown(member)) {
        problems.push({
          file: toolsYaml.file,
          line: toolsYaml.lineOf(['groups', group, i]),
          path: `groups.${group}[${i}]`,
          message: `names unknown tool "${member}"`,
        });
      }
    });
  }
  const seenAgents = new Set<string>();
  agents.file.agents.forEach((agent, i) => {
    if (seenAgents.has(agent.id)) {
      problems.push({
        file: agentsYaml.file,
        line: agentsYaml.lineOf(['agents', i, 'id']),
        path: `agents[${i}].id`,
        message: `duplicate agent id "${agent.id}"`,
      });
    }
    seenAgents.add(agent.id);
    agent.tool_groups.forEach((group, j) => {
      if (!Object.hasOwn(tools.file.groups, group)) {
        problems.push({
          file: agentsYaml.file,
          line: agentsYaml.lineOf(['agents', i, 'tool_groups', j]),
          path: `agents[${i}].tool_groups[${j}]`,
          message: `names unknown tool group "${group}"`,
        });
      }
    });
  });
  return problems;
}
