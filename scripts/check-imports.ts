// Enforces the layering rule: proxy/, control-plane/, injector/ import only api/ (and libraries), never each other,
// api/ imports none of them, and no folder has an import cycle.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const roles = ['api', 'proxy', 'control-plane', 'injector'] as const;
const allowed: Record<string, readonly string[]> = {
  api: ['api'],
  proxy: ['api', 'proxy'],
  'control-plane': ['api', 'control-plane'],
  injector: ['api', 'injector'],
};

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
}

const files: string[] = [];
for (const top of ['api', 'proxy', 'control-plane', 'injector', 'cli', 'local-cluster', 'conformance', 'bench', 'scripts']) {
  try { walk(join(root, top), files); } catch { /* folder may not exist yet */ }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const graph = new Map<string, string[]>();
const problems: string[] = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(importRe)) {
    // Type-only imports are erased at run time: they cannot form a load-order cycle.
    if (/^\s*(?:import|export)\s+type\s/.test(m[0])) continue;
    const spec = m[1] ?? m[2];
    if (!spec || !spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    deps.push(target);
    const from = relative(root, file).split(sep)[0]!;
    const to = relative(root, target).split(sep)[0]!;
    if ((roles as readonly string[]).includes(from) && !allowed[from]!.includes(to)) {
      problems.push(`${relative(root, file)} imports ${spec}: ${from}/ may import only ${allowed[from]!.join(', ')}`);
    }
  }
  graph.set(file, deps);
}

// Cycle detection (iterative DFS with colours).
const colour = new Map<string, 0 | 1 | 2>();
const stack: string[] = [];
function visit(node: string): void {
  colour.set(node, 1);
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    const c = colour.get(dep) ?? 0;
    if (c === 1) {
      const cycle = stack.slice(stack.indexOf(dep)).concat(dep).map((f) => relative(root, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (c === 0 && graph.has(dep)) visit(dep);
  }
  stack.pop();
  colour.set(node, 2);
}
for (const f of graph.keys()) if ((colour.get(f) ?? 0) === 0) visit(f);

if (problems.length > 0) {
  for (const p of problems) process.stderr.write(p + '\n');
  process.exit(1);
}
process.stdout.write(`check-imports: ${files.length} files, layering and cycles OK\n`);
