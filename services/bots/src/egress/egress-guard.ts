import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, buildConnector, type Dispatcher, fetch as undiciFetch } from 'undici';
import { directFetch, isDirectRequest } from './direct-fetch.ts';
import { EgressDeniedError, type EgressPolicy, normalizeHost } from './egress-policy.ts';

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
type Resolver = (host: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/**
 * Applies the egress policy twice: when a URL is saved (refusing it with a reason) and on every connection
 * (DNS lookup hook plus IP-literal check in the connector), so a name that resolved to a public address at
 * save time and to 127.0.0.1 later (DNS rebinding), or a redirect to an internal address, gets nowhere.
 */
export class EgressGuard {
  readonly dispatcher: Dispatcher;

  /**
   * `saveLookupMs`: how long a save waits for DNS (default 3 s). A resolver that hangs would otherwise hold
   * the admin's request as long as the system's resolver retries; a name that does not answer in time is
   * treated as one that does not resolve.
   */
  constructor(
    private readonly policy: EgressPolicy,
    private readonly resolver: Resolver = systemResolver,
    private readonly saveLookupMs = 3000,
  ) {
    const connect = buildConnector({
      lookup: (host, options, callback) => this.lookup(host, options, callback),
    });
    this.dispatcher = new Agent({
      connect: (options, callback) => {
        const host = normalizeHost(options.hostname);
        if (isIP(host) && !this.policy.trustsName(host) && !this.policy.allowsAddress(host)) {
          callback(denied(host, host), null);
          return;
        }
        connect(options, callback);
      },
    });
  }

  /**
   * Save-time check. A host that does not resolve right now (or not within `saveLookupMs`) is accepted:
   * nothing shows it is internal, and the connect-time check still stands between it and any internal
   * address.
   */
  async checkUrl(rawUrl: string): Promise<void> {
    const host = this.policy.checkStatic(rawUrl);
    if (host === undefined) return;
    let addresses: LookupAddress[];
    let timer: NodeJS.Timeout | undefined;
    try {
      addresses = await Promise.race([
        this.resolver(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('DNS lookup timed out')), this.saveLookupMs);
        }),
      ]);
    } catch {
      return;
    } finally {
      clearTimeout(timer);
    }
    for (const { address } of addresses) this.policy.checkAddress(address, host);
  }

  /**
   * `fetch` whose every connection goes through the guard; what the OpenAI SDK is given. The SDK's own
   * calls take the direct path (direct-fetch.ts); the rest, and redirects, go through undici's fetch.
   */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' || input instanceof URL ? input.toString() : input.url;
    this.policy.checkStatic(url);
    if (!(input instanceof Request) && isDirectRequest(init)) {
      const direct = await directFetch(this.dispatcher, url, init);
      if (direct) return direct;
    }
    // The package's fetch does not know Node's own Request class: a Request is passed on taken apart.
    const fromRequest =
      input instanceof Request
        ? {
            method: input.method,
            headers: input.headers,
            body: input.body,
            signal: input.signal,
            duplex: 'half',
          }
        : {};
    const options = { ...fromRequest, ...(init ?? {}), dispatcher: this.dispatcher };
    // undici's fetch is the one Node ships, from the package so that it takes our dispatcher; its Response
    // is the same WHATWG class in all but the type declarations.
    const response = await undiciFetch(url, options as Parameters<typeof undiciFetch>[1]);
    return response as unknown as Response;
  };

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private lookup(host: string, options: object, callback: LookupCallback): void {
    const wantsAll = (options as { all?: boolean }).all === true;
    const name = normalizeHost(host);
    this.resolver(name).then(
      (addresses) => {
        if (!this.policy.trustsName(name)) {
          const refused = addresses.find(({ address }) => !this.policy.allowsAddress(address));
          if (refused) {
            callback(denied(name, refused.address), '');
            return;
          }
        }
        const first = addresses[0];
        if (!first) {
          callback(Object.assign(new Error(`${name} has no address`), { code: 'ENOTFOUND' }), '');
          return;
        }
        if (wantsAll) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  }
}

function denied(host: string, address: string): EgressDeniedError {
  return new EgressDeniedError(
    'internal_address',
    `${host} resolves to ${address}, a loopback, private or link-local address not in PARLEY_EGRESS_ALLOWLIST`,
  );
}
