export * from './backends.ts';
export * from './metric-sample.ts';
export * from './wait-for.ts';
