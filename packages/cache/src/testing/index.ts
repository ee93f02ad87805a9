export { type CacheContractOptions, runCacheContract } from './cache-contract.ts';
