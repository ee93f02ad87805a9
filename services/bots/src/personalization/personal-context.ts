/**
 * What the personalization service has learned about a user (their preferences and the facts they shared),
 * as short lines a prompt can include. The port exists now so prompts are built the same way once the
 * service does; its only adapter so far knows nothing.
 */
export interface PersonalContext {
  factsAbout(userId: string): Promise<string[]>;
}

/** The adapter while no personalization service exists: no facts, never a guess. */
export class NoPersonalContext implements PersonalContext {
  async factsAbout(): Promise<string[]> {
    return [];
  }
}
