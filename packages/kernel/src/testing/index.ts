export * from './backends.ts';
export * from './wait-for.ts';
