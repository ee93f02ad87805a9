// The messages bench/chat.ts (the server process) and bench/chat/load.ts (the load process) exchange over
// the child-process IPC channel. Results are summaries, never raw samples, so the channel stays quiet.

/** Latency percentiles of one measured round, in milliseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  samples: number;
}

export type LoadCommand =
  /** One socket per token; `rooms[i]` goes in socket i's handshake (the raw server joins it there). */
  | { id: number; kind: 'connect'; group: string; url: string; tokens: string[]; rooms?: string[] }
  /** Every socket of the group keeps `inFlight` sends outstanding, each into its own conversation. */
  | { id: number; kind: 'closedLoop'; group: string; conversations: string[]; inFlight: number; ms: number }
  /** Open loop: `rate` sends per second spread over the group's sockets; ack latency per send. */
  | { id: number; kind: 'paced'; group: string; conversations: string[]; rate: number; ms: number }
  /** The group's first socket sends at `rate` into one conversation every socket of the group is in. */
  | { id: number; kind: 'fanout'; group: string; conversationId: string; rate: number; ms: number }
  | { id: number; kind: 'close'; group: string };

export interface ClosedLoopResult {
  completed: number;
  failed: number;
  perSecond: number;
}

export interface PacedResult {
  ack: LatencySummary;
  failed: number;
}

export interface FanoutResult {
  e2e: LatencySummary;
  /** Deliveries expected: sends x receivers; fewer received means messages were lost or late. */
  expected: number;
}

export type LoadReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
