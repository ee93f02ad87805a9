// What bench/bots.ts (the Parley process) and bench/bots/clients.ts (the clients and the test provider)
// exchange over the child-process IPC channel. Results are summaries, never raw samples.

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface ClientUser {
  token: string;
  conversationId: string;
}

export type ClientCommand =
  | { id: number; kind: 'startProvider' }
  | { id: number; kind: 'connect'; url: string; users: ClientUser[] }
  /** Drops every client and connects the same users to another server. */
  | { id: number; kind: 'reconnect'; url: string; users: ClientUser[] }
  /** One message at a time: time to first delta at the client against the provider's own first-token time. */
  | {
      id: number;
      kind: 'latency';
      samples: number;
      warmup: number;
      firstTokenDelayMs: number;
      thinkMs: number;
    }
  /** Every client sends at once; each assembles its stream from the deltas and checks it against the final message. */
  | { id: number; kind: 'burst'; tokens: number; tokenDelayMs: number; timeoutMs: number }
  | { id: number; kind: 'stop' };

export interface LatencyResult {
  /** Client's time to first delta minus the provider's time to first token: what Parley adds. */
  added: Percentiles;
  /** Client's time from sending to the first delta. */
  firstDelta: Percentiles;
  /** Provider's own time from the request to its first token. */
  providerFirstToken: Percentiles;
  /** Chat alone: from the client's send until its acknowledgement (the message is stored). */
  ack: Percentiles;
  /** Of the added time: from the client's send until the provider got the request. */
  beforeProvider: Percentiles;
  /** Of the added time: from the provider writing its first token until the client had it. */
  tokenPath: Percentiles;
  samples: number;
}

export interface BurstResult {
  streams: number;
  /** Streams whose final message arrived. */
  completed: number;
  /** Streams whose deltas, assembled by offset, equal the final message exactly. */
  intact: number;
  /** Deltas that left a gap (a delta missing before them). */
  gaps: number;
  /** Deltas that arrived after a later one of the same stream. */
  reordered: number;
  /** Streams that rebuild exactly when their deltas are sorted by offset: none was lost, some came late. */
  intactSorted: number;
  deltas: number;
  firstDelta: Percentiles;
  durationMs: number;
}

export type ClientReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string };
