export * from './bus-contract.ts';
export * from './wait.ts';
