import {
  type Bot,
  BotsEvents,
  type CreateBotBody,
  type ListBotsQuery,
  type UpdateBotBody,
} from '@parley/contracts';
import { AppError, conflict, createEvent, hasRole, newId, notFound, type Principal } from '@parley/kernel';
import { isUniqueViolation, type Outbox, type Tx } from '@parley/store';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { EgressDeniedError } from '../egress/egress-policy.ts';
import type { BotRow, BotsRepository } from '../repositories/bots-repository.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import { mergeConfig } from './bot-config.ts';
import type { BotLookup } from './bot-lookup.ts';
import { toBotSnapshot, toBotView } from './bot-views.ts';
import { decodeCursor, type Page, toPage } from './cursor.ts';

export interface BotServiceDeps {
  outbox: Outbox;
  bots: BotsRepository;
  egress: EgressGuard;
  secrets: SecretBox;
  /** Told of every committed change, so replies stop using what they remember of a bot. */
  lookup: BotLookup;
}

const nameTaken = () => conflict('A bot with this name exists already.', 'bot_name_taken');

/** Bots as admins manage them and users find them; the provider key is sealed here and nowhere else. */
export class BotService {
  constructor(private readonly deps: BotServiceDeps) {}

  async list(principal: Principal, query: ListBotsQuery): Promise<Page<Bot>> {
    const admin = hasRole(principal.role, 'admin');
    const limit = query.limit ?? 20;
    const rows = await this.deps.bots.list({
      activeOnly: !(admin && query.includeInactive === true),
      after: decodeCursor(query.cursor),
      limit: limit + 1,
    });
    return toPage(rows, limit, (row) => toBotView(row, admin));
  }

  async get(principal: Principal, id: string): Promise<Bot> {
    const admin = hasRole(principal.role, 'admin');
    const row = await this.deps.bots.findById(id);
    if (!row || (!row.active && !admin)) throw notFound('There is no such bot.');
    return toBotView(row, admin);
  }

  /** An existing bot for admin work (knowledge, commands); 404 otherwise. */
  async require(id: string): Promise<BotRow> {
    const row = await this.deps.bots.findById(id);
    if (!row) throw notFound('There is no such bot.');
    return row;
  }

  async create(principal: Principal, body: CreateBotBody): Promise<Bot> {
    const change = mergeConfig(body.kind, {}, body.config);
    await this.checkEgress(change.config.baseUrl);
    const id = newId('bot');
    let demoted: string[] = [];
    try {
      const row = await this.deps.outbox.transaction(async (tx) => {
        if (body.support) demoted = await this.takeSupportRole(tx, id, principal);
        const created = await this.deps.bots.insert(tx, {
          id,
          name: body.name.trim(),
          description: body.description ?? '',
          kind: body.kind,
          active: body.active ?? true,
          support: body.support ?? false,
          config: change.config,
          apiKeySealed: change.apiKey ? this.deps.secrets.seal(change.apiKey, id) : null,
        });
        await this.publish(tx, BotsEvents.botCreated, created, principal);
        return created;
      });
      await this.deps.lookup.changed(demoted);
      return toBotView(row, true);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken();
      throw error;
    }
  }

  async update(principal: Principal, id: string, body: UpdateBotBody): Promise<Bot> {
    // Checked before the transaction (it resolves names): the row lock below is held only briefly.
    if (body.config?.baseUrl) await this.checkEgress(body.config.baseUrl);
    let demoted: string[] = [];
    try {
      const row = await this.deps.outbox.transaction(async (tx) => {
        // The support role's lock before any bot row (as create takes it), then this bot's row: merged
        // with the settings as they are under its lock, two admins changing different settings at once
        // both keep theirs.
        if (body.support) demoted = await this.takeSupportRole(tx, id, principal);
        const current = await this.deps.bots.findForUpdate(tx, id);
        if (!current) throw notFound('There is no such bot.');
        const change = mergeConfig(current.kind, current.config, body.config);
        const updated = await this.deps.bots.update(tx, id, {
          ...(body.name !== undefined ? { name: body.name.trim() } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.active !== undefined ? { active: body.active } : {}),
          ...(body.support !== undefined ? { support: body.support } : {}),
          config: change.config,
          ...(change.apiKey !== undefined
            ? { apiKeySealed: change.apiKey === null ? null : this.deps.secrets.seal(change.apiKey, id) }
            : {}),
        });
        if (!updated) throw notFound('There is no such bot.');
        await this.publish(tx, BotsEvents.botUpdated, updated, principal);
        return updated;
      });
      await this.deps.lookup.changed([id, ...demoted]);
      return toBotView(row, true);
    } catch (error) {
      if (isUniqueViolation(error)) throw nameTaken();
      throw error;
    }
  }

  async delete(principal: Principal, id: string): Promise<void> {
    const deleted = await this.deps.outbox.transaction(async (tx) => {
      const gone = await this.deps.bots.delete(tx, id);
      if (gone) {
        await this.deps.outbox.add(
          tx,
          createEvent(
            BotsEvents.botDeleted,
            { botId: id },
            { actor: { type: 'user', id: principal.userId } },
          ),
        );
      }
      return gone;
    });
    if (!deleted) throw notFound('There is no such bot.');
    await this.deps.lookup.changed([id]);
  }

  /** The provider key in clear, for the one request about to use it. */
  apiKeyOf(row: BotRow): string | undefined {
    return row.apiKeySealed === null ? undefined : this.deps.secrets.open(row.apiKeySealed, row.id);
  }

  private async checkEgress(baseUrl: string | undefined): Promise<void> {
    if (baseUrl === undefined) return;
    try {
      await this.deps.egress.checkUrl(baseUrl);
    } catch (error) {
      if (!(error instanceof EgressDeniedError)) throw error;
      throw new AppError(400, 'egress_denied', `The provider URL is not allowed: ${error.message}.`, {
        errors: [{ path: 'config.baseUrl', message: error.message }],
      });
    }
  }

  /**
   * One support bot at a time: the bot that had the role loses it in the same transaction, and says so.
   * Returns the bots that lost it.
   */
  private async takeSupportRole(tx: Tx, botId: string, principal: Principal): Promise<string[]> {
    const demoted = await this.deps.bots.takeSupportFromOthers(tx, botId);
    for (const previous of demoted) await this.publish(tx, BotsEvents.botUpdated, previous, principal);
    return demoted.map((previous) => previous.id);
  }

  private async publish(tx: Tx, type: string, row: BotRow, principal: Principal): Promise<void> {
    await this.deps.outbox.add(
      tx,
      createEvent(type, { bot: toBotSnapshot(row) }, { actor: { type: 'user', id: principal.userId } }),
    );
  }
}
