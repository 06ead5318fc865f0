// Reads a callgrind dump into each function's own instruction count, naming JIT code from Node's --perf-basic-prof map.
import { existsSync, readFileSync } from 'node:fs';

/** JIT code ranges of one process (from /tmp/perf-PID.map), sorted by start; a later entry for the same start wins. */
export interface PerfMap { readonly starts: number[]; readonly ends: number[]; readonly names: string[] }

export function readPerfMap(path: string): PerfMap {
  const byStart = new Map<number, { end: number; name: string }>();
  if (existsSync(path)) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m) byStart.set(parseInt(m[1]!, 16), { end: parseInt(m[1]!, 16) + parseInt(m[2]!, 16), name: m[3]! });
    }
  }
  const starts = [...byStart.keys()].sort((a, b) => a - b);
  return { starts, ends: starts.map((s) => byStart.get(s)!.end), names: starts.map((s) => byStart.get(s)!.name) };
}

/** The JIT function holding `addr`, or null. */
export function lookup(map: PerfMap, addr: number): string | null {
  let lo = 0;
  let hi = map.starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (map.starts[mid]! <= addr) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && addr < map.ends[hi]! ? map.names[hi]! : null;
}

export interface FnCost { readonly fn: string; ir: number }

/**
 * Own (self) instructions per function, largest first. Callgrind names code without symbols by its address (`0x...`):
 * those are looked up in `map` (JIT code; V8's interpreter handlers and builtins are named there too), else kept as
 * "(unknown)". A cost line right after `calls=` is the call's inclusive cost, not the caller's own, and is skipped.
 */
export function selfCosts(text: string, map: PerfMap): FnCost[] {
  const names = new Map<string, string>();
  const named = (ref: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(ref);
    if (!m) return ref;
    if (m[2] !== undefined) names.set(m[1]!, m[2]);
    return names.get(m[1]!) ?? ref;
  };
  const costs = new Map<string, number>();
  let fn = '';
  let afterCall = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) {
      fn = named(line.slice(3));
      afterCall = false;
    } else if (line.startsWith('cfn=') || line.startsWith('cfi=') || line.startsWith('cfl=') || line.startsWith('cob=')) {
      if (line.startsWith('cfn=')) named(line.slice(4));
    } else if (line.startsWith('calls=')) {
      afterCall = true;
    } else if (/^[+\-*0-9]/.test(line)) {
      if (afterCall) {
        afterCall = false;
        continue;
      }
      const parts = line.split(' ');
      const ir = Number(parts[1] ?? 0);
      if (ir > 0) costs.set(fn, (costs.get(fn) ?? 0) + ir);
    }
  }
  const byName = new Map<string, number>();
  for (const [f, ir] of costs) {
    const name = /^0x[0-9a-f]+$/.test(f) ? (lookup(map, parseInt(f, 16)) ?? '(unknown code)') : f;
    byName.set(name, (byName.get(name) ?? 0) + ir);
  }
  return [...byName.entries()].map(([f, ir]) => ({ fn: f, ir })).sort((a, b) => b.ir - a.ir);
}

/**
 * Where an instruction count goes, by the function's name: V8's collector, its optimizing compilers, JIT-compiled
 * JavaScript (code without a symbol is JIT code), V8's builtins, the rest (Node, libc, V8's runtime).
 */
export function kindOf(fn: string): 'gc' | 'compiler' | 'js' | 'builtins' | 'other' {
  if (fn.startsWith('JS:') || fn === '(unknown code)') return 'js';
  if (fn.startsWith('Builtins_')) return 'builtins';
  if (/v8::internal::(compiler|maglev|turboshaft|baseline)::|OptimizedCompilationJob|TurbofanCompilationJob|MaglevCompilationJob/.test(fn)) return 'compiler';
  if (/v8::internal::(Scaveng|Marking|ConcurrentMarking|MarkCompact|Sweeper|Heap::|Evacuat|RememberedSet|MinorMark|IterateAndScavenge|RootScavenge|BodyDescriptorBase|MainMarking|MarkingWorklists|HeapObject::SizeFromMap|(anonymous namespace)::IterateObjectCache|PagedSpace|FreeList|MemoryAllocator|GCTracer|LocalHeap|ArrayBufferSweeper)/.test(fn)) return 'gc';
  return 'other';
}
