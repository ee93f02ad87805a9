export * from './guard.ts';
export * from './principal.ts';
