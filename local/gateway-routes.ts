/**
 * The resources of a local gateway, matched as API Gateway's REST APIs match them: exact paths first, then
 * resources with `{name}` (one path segment) and a last `{name+}` (the rest) parts, in declaration order;
 * path parameters are decoded.
 */
import type { GatewayRoute, ProxyHandler } from './gateway';

/** An HTTP method token (RFC 9110). */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A resource with its methods, and how to match a request path to it. */
interface Resource {
  readonly resource: string;
  readonly methods: Map<string, ProxyHandler>;
  /** undefined for an exact resource; else one matcher per part. */
  readonly parts?: ReadonlyArray<{ literal: string } | { parameter: string; greedy: boolean }>;
}

/** The declared resources: exact ones by path, the ones with parameters in declaration order. */
export class RouteTable {
  readonly #exact = new Map<string, Resource>();
  readonly #patterned: Resource[] = [];

  constructor(routes: readonly GatewayRoute[]) {
    for (const route of routes) {
      const method = route.method.toUpperCase();
      if (!route.path.startsWith('/')) throw new Error(`route path "${route.path}" must start with "/"`);
      if (!TOKEN.test(method)) throw new Error(`route method "${route.method}" is not an HTTP method`);
      const resource = this.#resource(route.path);
      if (resource.methods.has(method)) throw new Error(`route ${method} ${route.path} is declared twice`);
      resource.methods.set(method, route.handler);
    }
  }

  /** The resource a request path falls on, with its path parameters (decoded), or undefined. */
  match(
    path: string,
  ): { resource: string; methods: Map<string, ProxyHandler>; pathParameters?: Record<string, string> } | undefined {
    const exact = this.#exact.get(path);
    if (exact) return exact;
    const segments = path.split('/').slice(1);
    for (const candidate of this.#patterned) {
      const parameters = matchParts(candidate.parts ?? [], segments);
      if (parameters) return { resource: candidate.resource, methods: candidate.methods, pathParameters: parameters };
    }
    return undefined;
  }

  #resource(path: string): Resource {
    const known = this.#exact.get(path) ?? this.#patterned.find((r) => r.resource === path);
    if (known) return known;
    if (!path.includes('{')) {
      const resource: Resource = { resource: path, methods: new Map() };
      this.#exact.set(path, resource);
      return resource;
    }
    const segments = path.split('/').slice(1);
    const parts = segments.map((segment, i) => {
      const parameter = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
      if (!parameter) {
        if (segment.includes('{')) throw new Error(`route path "${path}": "${segment}" is not a {name} part`);
        return { literal: segment };
      }
      const greedy = parameter[2] === '+';
      if (greedy && i !== segments.length - 1) throw new Error(`route path "${path}": {name+} must be the last part`);
      return { parameter: parameter[1] as string, greedy };
    });
    const resource: Resource = { resource: path, methods: new Map(), parts };
    this.#patterned.push(resource);
    return resource;
  }
}

function matchParts(
  parts: NonNullable<Resource['parts']>,
  segments: readonly string[],
): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as NonNullable<Resource['parts']>[number];
    if ('literal' in part) {
      if (segments[i] !== part.literal) return undefined;
      continue;
    }
    const rest = part.greedy ? segments.slice(i) : segments.slice(i, i + 1);
    // `{name}` is one non-empty segment; `{name+}` is everything left, which must not be empty.
    if (part.greedy ? rest.join('/') === '' : rest[0] === '' || rest.length === 0) return undefined;
    parameters[part.parameter] = decodePathPart(rest.join('/'));
    if (part.greedy) return parameters;
  }
  return segments.length === parts.length ? parameters : undefined;
}

function decodePathPart(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
