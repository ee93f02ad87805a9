export type OpenApiDocument = Record<string, unknown>;

const COMPONENT_SECTIONS = [
  'schemas',
  'responses',
  'parameters',
  'examples',
  'requestBodies',
  'headers',
  'securitySchemes',
] as const;

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/**
 * One OpenAPI 3.1 document out of the gateway's own and each service's: paths, components and tags are
 * united (the first definition of a name wins, so a service cannot redefine another's), info and servers
 * stay the gateway's. `x-parley-services` says which services' documents are in it.
 */
export function mergeOpenApi(
  base: OpenApiDocument,
  parts: ReadonlyArray<{ service: string; document: OpenApiDocument | undefined }>,
): OpenApiDocument {
  const paths: Record<string, unknown> = { ...record(base.paths) };
  const components: Record<string, Record<string, unknown>> = {};
  for (const [section, entries] of Object.entries(record(base.components)))
    components[section] = { ...record(entries) };
  const tags = new Map<string, unknown>();
  for (const tag of Array.isArray(base.tags) ? base.tags : []) tags.set(String(record(tag).name), tag);
  const included: Record<string, 'included' | 'unavailable'> = {};

  for (const { service, document } of parts) {
    if (!document) {
      included[service] = 'unavailable';
      continue;
    }
    included[service] = 'included';
    for (const [path, item] of Object.entries(record(document.paths)))
      if (!(path in paths)) paths[path] = item;
    const theirs = record(document.components);
    for (const section of COMPONENT_SECTIONS) {
      const entries = record(theirs[section]);
      if (Object.keys(entries).length === 0) continue;
      const ours = components[section] ?? {};
      components[section] = ours;
      for (const [name, value] of Object.entries(entries)) if (!(name in ours)) ours[name] = value;
    }
    for (const tag of Array.isArray(document.tags) ? document.tags : []) {
      const name = String(record(tag).name);
      if (!tags.has(name)) tags.set(name, tag);
    }
  }
  return {
    ...base,
    paths,
    components,
    ...(tags.size > 0 ? { tags: [...tags.values()] } : {}),
    'x-parley-services': included,
  };
}
