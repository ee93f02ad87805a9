import type { Logger } from '@parley/kernel';
import type { UpstreamGroup } from '../upstream/upstream-group.ts';
import { mergeOpenApi, type OpenApiDocument } from './openapi-merge.ts';

export interface OpenApiAggregatorOptions {
  groups: readonly UpstreamGroup[];
  /** This process's own document (its in-process services' routes). */
  local: () => OpenApiDocument;
  fetchDocument: (group: UpstreamGroup) => Promise<OpenApiDocument>;
  refreshMs: number;
  logger: Logger;
  onMerged?: (document: OpenApiDocument) => void;
}

/**
 * The merged API document of a distributed deployment: each service's /openapi.json fetched from one of
 * its nodes, cached, and refreshed in the background. A service that cannot be reached keeps the document
 * it last had, so a node restart does not make its routes vanish from /docs.
 */
export class OpenApiAggregator {
  private readonly documents = new Map<string, OpenApiDocument>();
  private merged: OpenApiDocument | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: OpenApiAggregatorOptions) {}

  document(): OpenApiDocument {
    this.merged ??= this.merge();
    return this.merged;
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.fetchAll().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async fetchAll(): Promise<void> {
    await Promise.all(
      this.options.groups.map(async (group) => {
        try {
          this.documents.set(group.service, await this.options.fetchDocument(group));
        } catch (error) {
          this.options.logger.debug({ err: error, service: group.service }, 'OpenAPI document not fetched');
        }
      }),
    );
    this.merged = this.merge();
    this.options.onMerged?.(this.merged);
  }

  private merge(): OpenApiDocument {
    return mergeOpenApi(
      this.options.local(),
      this.options.groups.map((group) => ({
        service: group.service,
        document: this.documents.get(group.service),
      })),
    );
  }
}
