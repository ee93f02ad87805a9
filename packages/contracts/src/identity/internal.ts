/**
 * The problem code of identity's internal API-key lookup when it does not know the key: an asker tells
 * that apart from a 404 of a node with no such route (PARLEY_UPSTREAM_IDENTITY pointing at another
 * service), which must not refuse every key.
 */
export const API_KEY_UNKNOWN = 'api_key_unknown';
