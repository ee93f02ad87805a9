export * from './build-chat.ts';
export { DiskFileStorage } from './files/disk-file-storage.ts';
export type { FileStorage } from './files/file-storage.ts';
