import { stringify } from 'yaml';

/**
 * Renders the subset of Helm's Go templates the Parley chart uses, so its output can be parsed and checked
 * without a Helm binary: `{{ }}` with `-` trimming and comments; `.Values`, `.Release`, `.Chart`, `$`,
 * `$var` and their fields; `range $k, $v := ...` (maps in sorted key order, as Go does), `if`/`else`/`end`;
 * pipelines through quote, upper, toYaml, nindent, indent, default, required, eq, ne and not. Anything
 * else throws, so a template that outgrows the subset fails the test instead of being rendered wrongly.
 */

type Value = unknown;
type Scope = { root: Record<string, Value>; vars: Map<string, Value> };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; pipeline: string }
  | { kind: 'if'; condition: string; whenTrue: Node[]; otherwise: Node[] }
  | { kind: 'range'; key: string; value: string; source: string; body: Node[] };

interface Token {
  text?: string;
  action?: string;
}

function tokenize(template: string): Token[] {
  const tokens: Token[] = [];
  const pattern = /\{\{(- )?([\s\S]*?)( -)?\}\}/g;
  let last = 0;
  for (let match = pattern.exec(template); match; match = pattern.exec(template)) {
    let text = template.slice(last, match.index);
    if (match[1]) text = text.replace(/\s+$/, '');
    tokens.push({ text });
    tokens.push({ action: (match[2] ?? '').trim() });
    last = match.index + match[0].length;
    if (match[3]) {
      const rest = template.slice(last);
      last += rest.length - rest.replace(/^\s+/, '').length;
    }
  }
  tokens.push({ text: template.slice(last) });
  return tokens;
}

function parse(
  tokens: Token[],
  position = { index: 0 },
  closers: string[] = [],
): { nodes: Node[]; closer?: string } {
  const nodes: Node[] = [];
  while (position.index < tokens.length) {
    const token = tokens[position.index++] as Token;
    if (token.text !== undefined) {
      if (token.text) nodes.push({ kind: 'text', text: token.text });
      continue;
    }
    const action = token.action ?? '';
    if (action.startsWith('/*')) continue;
    if (closers.includes(action)) return { nodes, closer: action };
    if (action.startsWith('if ')) {
      const then = parse(tokens, position, ['else', 'end']);
      const otherwise = then.closer === 'else' ? parse(tokens, position, ['end']).nodes : [];
      nodes.push({ kind: 'if', condition: action.slice(3), whenTrue: then.nodes, otherwise });
    } else if (action.startsWith('range ')) {
      const match = /^range\s+(\$\w+)\s*,\s*(\$\w+)\s*:=\s*(.+)$/.exec(action);
      if (!match) throw new Error(`unsupported range: ${action}`);
      const body = parse(tokens, position, ['end']);
      nodes.push({
        kind: 'range',
        key: match[1] as string,
        value: match[2] as string,
        source: match[3] as string,
        body: body.nodes,
      });
    } else if (action === 'else' || action === 'end') {
      throw new Error(`unexpected {{ ${action} }}`);
    } else {
      nodes.push({ kind: 'output', pipeline: action });
    }
  }
  if (closers.length > 0) throw new Error(`missing {{ ${closers.join(' or ')} }}`);
  return { nodes };
}

function words(command: string): string[] {
  return command.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function field(value: Value, path: string[]): Value {
  let current = value;
  for (const key of path) {
    if (!key) continue;
    current = current && typeof current === 'object' ? (current as Record<string, Value>)[key] : undefined;
  }
  return current;
}

function term(word: string, scope: Scope): Value {
  if (word.startsWith('"')) return JSON.parse(word);
  if (/^-?\d+$/.test(word)) return Number(word);
  if (word === 'true' || word === 'false') return word === 'true';
  if (word.startsWith('.')) return field(scope.root, word.slice(1).split('.'));
  if (word.startsWith('$')) {
    const [name, ...path] = word.split('.');
    const base = name === '$' ? scope.root : scope.vars.get(name as string);
    if (name !== '$' && !scope.vars.has(name as string)) throw new Error(`unknown variable ${name}`);
    return field(base, path);
  }
  throw new Error(`unsupported term: ${word}`);
}

function truthy(value: Value): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value as object).length > 0;
  return true;
}

function text(value: Value): string {
  return value === undefined || value === null ? '' : String(value);
}

const FUNCTIONS: Record<string, (...args: Value[]) => Value> = {
  quote: (value) => JSON.stringify(text(value)),
  upper: (value) => text(value).toUpperCase(),
  toYaml: (value) => stringify(value).trimEnd(),
  nindent: (spaces, value) => `\n${indent(Number(spaces), text(value))}`,
  indent: (spaces, value) => indent(Number(spaces), text(value)),
  default: (fallback, value) => (truthy(value) ? value : fallback),
  required: (message, value) => {
    if (!truthy(value)) throw new Error(`required: ${text(message)}`);
    return value;
  },
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  not: (value) => !truthy(value),
};

function indent(spaces: number, value: string): string {
  const pad = ' '.repeat(spaces);
  return value
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

function evaluate(pipeline: string, scope: Scope): Value {
  let piped: { value: Value } | undefined;
  for (const command of pipeline.split('|').map((part) => part.trim())) {
    const [head, ...rest] = words(command);
    if (head === undefined) throw new Error(`empty command in ${pipeline}`);
    const fn = FUNCTIONS[head];
    if (!fn) {
      if (rest.length > 0 || piped) throw new Error(`unsupported command: ${command}`);
      piped = { value: term(head, scope) };
      continue;
    }
    const args = rest.map((word) => term(word, scope));
    piped = { value: fn(...args, ...(piped ? [piped.value] : [])) };
  }
  return piped?.value;
}

function render(nodes: Node[], scope: Scope): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'output') out += text(evaluate(node.pipeline, scope));
    else if (node.kind === 'if')
      out += render(truthy(evaluate(node.condition, scope)) ? node.whenTrue : node.otherwise, scope);
    else {
      const source = evaluate(node.source, scope);
      const entries: Array<[Value, Value]> = Array.isArray(source)
        ? source.map((item, index) => [index, item])
        : Object.entries((source ?? {}) as Record<string, Value>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          );
      for (const [key, value] of entries) {
        const vars = new Map(scope.vars);
        vars.set(node.key, key);
        vars.set(node.value, value);
        out += render(node.body, { root: scope.root, vars });
      }
    }
  }
  return out;
}

export interface RenderContext {
  Values: Record<string, Value>;
  Release: { Name: string; Namespace: string };
  Chart: Record<string, Value>;
}

export function renderTemplate(template: string, context: RenderContext): string {
  return render(parse(tokenize(template)).nodes, {
    root: context as unknown as Record<string, Value>,
    vars: new Map(),
  });
}
