import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type StubHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  body: string,
) => void | Promise<void>;

export interface StubUpstream {
  url: string;
  port: number;
  server: Server;
  /** Every request that reached the stub (health checks included), in arrival order. */
  seen: SeenRequest[];
  /** Requests other than the gateway's own (health checks, OpenAPI document). */
  traffic(): SeenRequest[];
  /** What /ready answers (200 by default). */
  readyStatus: number;
  /** What /openapi.json answers. */
  openapi: Record<string, unknown>;
  handle: StubHandler;
  close(): Promise<void>;
}

/**
 * A small HTTP server standing in for a service node: answers /ready and /openapi.json as the test sets
 * them, records every request, and hands the others to a handler the test can swap.
 */
export async function startStub(handle: StubHandler, port = 0): Promise<StubUpstream> {
  const stub: StubUpstream = {
    url: '',
    port: 0,
    server: createServer(),
    seen: [],
    traffic: () => stub.seen.filter((request) => request.url !== '/ready' && request.url !== '/openapi.json'),
    readyStatus: 200,
    openapi: { openapi: '3.1.0', info: { title: 'stub', version: '1' }, paths: {} },
    handle,
    close: () =>
      new Promise((resolve) => {
        stub.server.closeAllConnections();
        stub.server.close(() => resolve());
      }),
  };
  stub.server.on('request', (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      stub.seen.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body,
      });
      if (request.url === '/ready') {
        response.writeHead(stub.readyStatus, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (request.url === '/openapi.json') {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stub.openapi));
        return;
      }
      void stub.handle(request, response, body);
    });
  });
  await new Promise<void>((resolve) => stub.server.listen(port, '127.0.0.1', resolve));
  stub.port = (stub.server.address() as AddressInfo).port;
  stub.url = `http://127.0.0.1:${stub.port}`;
  return stub;
}

/** Answers JSON naming the stub, so a test can tell which node served it. */
export function echo(name: string): StubHandler {
  return (request, response, body) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ node: name, method: request.method, url: request.url, body }));
  };
}

/** Identity as the gateway needs it: the signer's keys at the JWKS path, anything else echoed. */
export function identityServing(signer: { jwks: unknown }): StubHandler {
  const others = echo('identity');
  return (request, response, body) => {
    if (request.url === '/.well-known/jwks.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(signer.jwks));
      return;
    }
    return others(request, response, body);
  };
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
