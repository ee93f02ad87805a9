export * from './bus.ts';
export * from './create-bus.ts';
export * from './memory-bus.ts';
export * from './nats-bus.ts';
