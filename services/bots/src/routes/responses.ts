export { problems } from '@parley/contracts';

export const security = [{ bearer: [] }];
