export interface Price {
  /** USD per million prompt tokens. */
  prompt: number;
  /** USD per million completion tokens. */
  completion: number;
}

/**
 * List prices of common hosted models (USD per million tokens) so estimates mean something out of the
 * box; PARLEY_BOTS_PRICES adds to or overrides them. Models not listed (local ones) cost nothing.
 */
const BUILT_IN: Record<string, Price> = {
  'gpt-4o-mini': { prompt: 0.15, completion: 0.6 },
  'gpt-4o': { prompt: 2.5, completion: 10 },
  'gpt-4.1-nano': { prompt: 0.1, completion: 0.4 },
  'gpt-4.1-mini': { prompt: 0.4, completion: 1.6 },
  'gpt-4.1': { prompt: 2, completion: 8 },
  'gpt-3.5-turbo': { prompt: 0.5, completion: 1.5 },
};

export class PriceTable {
  private readonly prices: [string, Price][];

  constructor(overrides: Record<string, Price> = {}) {
    // Longest name first, so "gpt-4o-mini-2024-07-18" is priced as gpt-4o-mini, not gpt-4o.
    this.prices = Object.entries({ ...BUILT_IN, ...overrides }).sort((a, b) => b[0].length - a[0].length);
  }

  priceOf(model: string): Price | undefined {
    const name = model.toLowerCase();
    return this.prices.find(([prefix]) => name === prefix || name.startsWith(`${prefix}-`))?.[1];
  }

  costUsd(model: string, promptTokens: number, completionTokens: number): number {
    const price = this.priceOf(model);
    if (!price) return 0;
    return (promptTokens * price.prompt + completionTokens * price.completion) / 1_000_000;
  }
}
