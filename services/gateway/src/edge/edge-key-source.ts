import { JwksKeySource, type KeySource, unavailable, type VerificationKey } from '@parley/kernel';

/** Fetches a URL path from wherever identity answers (an upstream pool, or this very process). */
export type JwksFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Identity's public keys for the edge, fetched through `fetch`. Until a first fetch has succeeded an unknown
 * key means "identity unreachable", not "bad token": the edge answers 503 rather than a 401 that would
 * make clients throw their tokens away.
 */
export class EdgeKeySource implements KeySource {
  private readonly jwks: JwksKeySource;
  private loaded = false;
  private warming: Promise<unknown> | undefined;

  constructor(fetchFn: JwksFetch, options: { cooldownMs?: number } = {}) {
    const tracked: typeof fetch = async (input, init) => {
      const response = await fetchFn(input, init);
      if (response.ok) this.loaded = true;
      return response;
    };
    // Short cooldown: a gateway that starts before identity must pick the keys up soon after it appears.
    this.jwks = new JwksKeySource({
      url: 'http://identity/.well-known/jwks.json',
      fetch: tracked,
      cooldownMs: options.cooldownMs ?? 2000,
    });
  }

  async publicKey(kid: string): Promise<VerificationKey | null> {
    // Until the keys are in, callers wait for the one fetch under way: the JWKS source answers a caller
    // that arrives while it fetches with "unknown key" at once, which a burst at start-up would all get.
    if (!this.loaded) {
      this.warming ??= this.jwks.publicKey(kid).finally(() => {
        this.warming = undefined;
      });
      await this.warming.catch(() => undefined);
    }
    const key = await this.jwks.publicKey(kid);
    if (!key && !this.loaded)
      throw unavailable('The signing keys cannot be fetched from identity right now.');
    return key;
  }
}
