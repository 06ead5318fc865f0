// The Skein builds a before/after tool runs side by side (bench/ab.ts, bench/grpc-pair.ts): this checkout, another
// checkout (--base DIR) and variants with other V8 flags or environment (--variants JSON), and the flag reader they share.

export interface Variant {
  readonly name: string;
  /** The checkout whose proxy runs (this one when absent). */
  readonly dir?: string;
  /** Node/V8 flags before bin/skein.mjs. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** The value after `--name` on the command line, or `dflt`. */
export function cliArg(argv: readonly string[], name: string, dflt: string): string {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : dflt;
}

/** `--base DIR` first (named `base (DIR)`), then this checkout, then every `--variants` entry (of the tool's own shape `V`). */
export function variantsFrom<V extends Variant = Variant>(argv: readonly string[]): V[] {
  const variants = [{ name: 'this checkout' }] as V[];
  if (argv.includes('--base')) variants.unshift({ name: `base (${cliArg(argv, '--base', '')})`, dir: cliArg(argv, '--base', '') } as V);
  if (argv.includes('--variants')) variants.push(...(JSON.parse(cliArg(argv, '--variants', '[]')) as V[]));
  return variants;
}
