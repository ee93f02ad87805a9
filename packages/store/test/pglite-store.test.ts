import { openPgliteTestDatabase } from '../src/testing/test-database.ts';
import { runStoreContract } from './store-contract.ts';

runStoreContract('PGlite (embedded)', openPgliteTestDatabase);
