import FindMyWay, { type HTTPMethod } from 'find-my-way';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Turns a concrete path (`/api/v1/conversations/cnv_1/messages`) into its route template
 * (`/api/v1/conversations/{id}/messages`) using the merged OpenAPI document, so per-route metrics keep a
 * bounded set of labels however many ids pass through.
 */
export class RouteLabels {
  private router = FindMyWay({ ignoreTrailingSlash: true });

  update(paths: Record<string, unknown>): void {
    const router = FindMyWay({ ignoreTrailingSlash: true });
    for (const [template, operations] of Object.entries(paths)) {
      if (!operations || typeof operations !== 'object' || template.includes('*')) continue;
      const pattern = template.replace(/\{([^}/]+)\}/g, ':$1');
      for (const method of Object.keys(operations)) {
        const upper = method.toUpperCase();
        if (!METHODS.has(upper)) continue;
        try {
          router.on(upper as HTTPMethod, pattern, () => {}, { template });
        } catch {
          // two templates for one shape: the first one names it
        }
      }
    }
    this.router = router;
  }

  label(method: string, path: string, fallback: string): string {
    const found = this.router.find(method as HTTPMethod, path);
    const store = found?.store as { template?: string } | undefined;
    return store?.template ?? fallback;
  }
}
