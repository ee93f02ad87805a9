import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from '../domain/auth-result.ts';

export function clientInfo(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers['user-agent'];
  return { userAgent: typeof userAgent === 'string' ? userAgent : null, ip: request.ip ?? null };
}
