// Redirect and rewrite path changes (Gateway API ReplaceFullPath / ReplacePrefixMatch), compiled once per route.
import type { PathModifierConfig, RouteConfig } from '../../api/config/proxy-config.ts';

/** Turns a request path (without its query) into the new one. */
export type PathChange = (path: string) => string;

/**
 * ReplacePrefixMatch: the route's matched prefix (element-wise, as the route matched it) is replaced by `value`, and the
 * rest of the path follows with exactly one `/` between them: /api/v1 matched by /api with value /x gives /x/v1, with
 * value / gives /v1; a path equal to the prefix becomes `value`.
 */
function prefixChange(prefix: string, value: string): PathChange {
  const matched = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const base = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
  return (path) => {
    if (matched !== '/' && path !== matched && !path.startsWith(`${matched}/`)) return path;
    const rest = matched === '/' ? path.slice(1) : path.slice(matched.length + 1);
    if (path === matched) return base;
    return base === '/' ? `/${rest}` : `${base}/${rest}`;
  };
}

/** The path change of a modifier on a route, or null for none. A `prefix` modifier needs a `prefix` match (parse checks). */
export function compilePathModifier(mod: PathModifierConfig | null, route: RouteConfig): PathChange | null {
  if (mod === null) return null;
  if (mod.type === 'full') {
    const v = mod.value;
    return () => v;
  }
  const m = route.match.path;
  return prefixChange(m !== null && m.type === 'prefix' ? m.value : '/', mod.value);
}

/** Applies a change to a path that may carry a query string (kept as it was). */
export function changePath(change: PathChange, pathWithQuery: string): string {
  const q = pathWithQuery.indexOf('?');
  return q < 0 ? change(pathWithQuery) : change(pathWithQuery.slice(0, q)) + pathWithQuery.slice(q);
}
