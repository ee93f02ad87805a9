import type { LastMessageSchema } from '@parley/contracts';
import type { Static } from 'typebox';

export type LastMessage = Static<typeof LastMessageSchema>;

/** An attachment as a message row keeps it; the download URL is derived, never stored. */
export interface StoredAttachment {
  id: string;
  name: string;
  mimeType: string;
  size: number;
}
