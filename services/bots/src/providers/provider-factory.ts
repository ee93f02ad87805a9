import type { EgressGuard } from '../egress/egress-guard.ts';
import type { BotRow } from '../repositories/bots-repository.ts';
import type { ChatProvider } from './chat-provider.ts';
import type { KnowledgeSource } from './knowledge-provider.ts';
import { KnowledgeProvider } from './knowledge-provider.ts';
import { ProviderError } from './provider-error.ts';
import { DEFAULT_RESILIENCE, type ResiliencePolicy, ResilientProvider } from './resilient-provider.ts';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface ProviderFactoryOptions {
  egress: EgressGuard;
  knowledge: KnowledgeSource;
  /**
   * OPENAI_BASE_URL / OPENAI_API_KEY: for llm bots that set none of their own. The key is sent only to the
   * default provider (its origin), never to a base URL a bot sets.
   */
  defaultBaseUrl: string | undefined;
  defaultApiKey: string | undefined;
  /** Opens a bot's sealed key for the request about to use it. */
  apiKeyOf: (bot: BotRow) => string | undefined;
  resilience: Pick<ResiliencePolicy, 'firstTokenTimeoutMs' | 'totalTimeoutMs'> & Partial<ResiliencePolicy>;
}

export interface BotProvider {
  provider: ChatProvider;
  /** The model name sent to the provider (the bot id for knowledge bots). */
  model: string;
  /** Whether tokens cost money and count against quotas. */
  metered: boolean;
}

/** Picks and wraps the provider a bot talks through: its knowledge base, or its OpenAI-compatible API. */
export class ProviderFactory {
  private readonly knowledgeProvider: ChatProvider;
  private readonly policy: ResiliencePolicy;
  private readonly defaultBaseUrl: string;
  /** Whose key OPENAI_API_KEY is; parsed once, not for every reply. */
  private readonly defaultOrigin: string;

  constructor(private readonly options: ProviderFactoryOptions) {
    this.policy = { ...DEFAULT_RESILIENCE, ...options.resilience };
    this.defaultBaseUrl = options.defaultBaseUrl ?? OPENAI_DEFAULT_BASE_URL;
    this.defaultOrigin = originOf(this.defaultBaseUrl) ?? '';
    this.knowledgeProvider = new ResilientProvider(new KnowledgeProvider(options.knowledge), this.policy);
  }

  /** The OpenAI SDK loads on first use: a knowledge-bot-only install never pays for it at start. */
  private openAi: Promise<typeof import('./openai-provider.ts')> | undefined;
  /** One SDK client per bot, kept while its URL and key stay the same: a reply need not build its own. */
  private readonly clients = new Map<
    string,
    { baseUrl: string; key: string | undefined; client: ChatProvider }
  >();

  async forBot(bot: BotRow): Promise<BotProvider> {
    if (bot.kind === 'faq') return { provider: this.knowledgeProvider, model: bot.id, metered: false };
    const baseUrl = bot.config.baseUrl ?? this.defaultBaseUrl;
    // OPENAI_API_KEY is the default provider's key: a bot that names another provider brings its own, or
    // goes without, rather than handing the operator's key to whoever runs the host its URL names.
    const key =
      this.options.apiKeyOf(bot) ??
      (originOf(baseUrl) === this.defaultOrigin ? this.options.defaultApiKey : undefined);
    if (key === undefined && baseUrl === OPENAI_DEFAULT_BASE_URL) {
      throw new ProviderError('configuration', 'The bot has no API key and OPENAI_API_KEY is not set.');
    }
    return {
      provider: new ResilientProvider(await this.clientFor(bot.id, baseUrl, key), this.policy),
      model: bot.config.model ?? '',
      metered: true,
    };
  }

  private async clientFor(botId: string, baseUrl: string, key: string | undefined): Promise<ChatProvider> {
    const known = this.clients.get(botId);
    if (known && known.baseUrl === baseUrl && known.key === key) return known.client;
    this.openAi ??= import('./openai-provider.ts');
    const { OpenAiProvider } = await this.openAi;
    const client = new OpenAiProvider({
      baseUrl,
      // Self-hosted servers (Ollama, llama.cpp) take any key; the SDK insists on one.
      apiKey: key ?? 'unused',
      fetch: this.options.egress.fetch,
      timeoutMs: this.policy.totalTimeoutMs,
    });
    this.clients.set(botId, { baseUrl, key, client });
    return client;
  }
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}
