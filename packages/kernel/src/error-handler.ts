import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDependencyOutage } from './dependency-outage.ts';
import { AppError, type FieldProblem, unavailable } from './errors.ts';
import { sqlState } from './stored-values.ts';

const FASTIFY_CODES: Record<string, { status: number; code: string; detail?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    detail: 'The request body is too large.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    detail: 'This content type is not accepted here; send application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'validation_failed', detail: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', detail: 'The body is not valid JSON.' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'bad_request',
    detail: 'Content-Length does not match the body.',
  },
  // Raised by the router before any hook runs (createProcessApp's frameworkErrors answers them).
  FST_ERR_BAD_URL: { status: 400, code: 'bad_request', detail: 'The URL is not valid.' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', detail: 'A part of the path is too long.' },
};

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'rate_limited',
  431: 'headers_too_large',
};

/**
 * Every schema problem is collected (allErrors), but an array of thousands of bad items must not come back
 * as a response many times the request's size: the first ones tell the client what to fix.
 */
export const MAX_FIELD_PROBLEMS = 20;

type ValidationIssue = NonNullable<FastifyError['validation']>[number];

function fieldProblems(context: string | undefined, issues: ValidationIssue[]): FieldProblem[] {
  return issues.map((issue) => {
    const params = issue.params as Record<string, unknown>;
    let path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const extra = params.missingProperty ?? params.additionalProperty;
    if (typeof extra === 'string') path = path ? `${path}.${extra}` : extra;
    const message =
      typeof params.additionalProperty === 'string'
        ? 'is not an allowed field'
        : (issue.message ?? 'is invalid');
    return { path: [context ?? 'body', path].filter(Boolean).join('.'), message };
  });
}

/** Turns any thrown error into problem+json: coded AppErrors as they are, framework errors mapped, the rest a 500 without detail. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  // PostgreSQL refused a value the request carried (class 22, data exception: NUL or broken UTF-16 in
  // text, a number or date out of its column's range): the client's to fix.
  // A row the request refers to went away between the check and the write (a user deleted while being
  // blocked, a bot while a document is added to it).
  if (sqlState(error) === '23503') {
    return new AppError(404, 'not_found', 'Something this request refers to does not exist (any more).');
  }
  if (sqlState(error)?.startsWith('22')) {
    return new AppError(
      400,
      'validation_failed',
      'A value in the request cannot be stored: text must not contain NUL characters or broken UTF-16, and numbers and dates must be within range.',
    );
  }
  // Anything may be thrown, null and strings included.
  const fastifyError = (typeof error === 'object' && error !== null ? error : {}) as Partial<FastifyError> & {
    validationContext?: string;
  };
  if (fastifyError.validation) {
    const issues = fastifyError.validation;
    const errors = fieldProblems(fastifyError.validationContext, issues.slice(0, MAX_FIELD_PROBLEMS));
    const detail =
      issues.length > MAX_FIELD_PROBLEMS
        ? `The request is not valid: ${issues.length} problems, the first ${MAX_FIELD_PROBLEMS} listed.`
        : 'The request is not valid.';
    return new AppError(400, 'validation_failed', detail, { errors });
  }
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return new AppError(known.status, known.code, known.detail ?? fastifyError.message ?? '');
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError(
      status,
      STATUS_CODES[status] ?? 'bad_request',
      fastifyError.message ?? 'Bad request.',
      {
        headers: stringHeadersOf(error),
      },
    );
  }
  if (isDependencyOutage(error)) {
    return unavailable('A service this request needs cannot be reached right now; try again shortly.', error);
  }
  return new AppError(500, 'internal_error', 'Something went wrong on our side; it has been logged.', {
    cause: error,
  });
}

/**
 * The headers an http-errors error asks its answer to carry (static files: a 416's `Content-Range: bytes
 * *\/<size>`, which tells the client what range it could ask for); only plain strings are taken.
 */
function stringHeadersOf(error: unknown): Record<string, string> {
  const headers = (error as { headers?: unknown }).headers;
  if (typeof headers !== 'object' || headers === null) return {};
  return Object.fromEntries(
    Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  return reply
    .status(error.status)
    .headers(error.headers)
    .type('application/problem+json')
    .send(error.toProblem(request.url.split('?')[0]));
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: appError.code, status: appError.status }, appError.message);
    return sendProblem(reply, request, appError);
  });
}
