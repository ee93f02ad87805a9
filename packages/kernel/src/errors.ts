export interface FieldProblem {
  path: string;
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** A failure with a stable machine `code`, rendered as RFC 9457 problem+json by the process's error handler. */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldProblem[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(
    status: number,
    code: string,
    detail: string,
    options: {
      errors?: FieldProblem[];
      headers?: Record<string, string>;
      extensions?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(detail, { cause: options.cause });
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }

  toProblem(instance?: string): ProblemDetails {
    return {
      ...this.extensions,
      type: `https://parley.dev/problems/${this.code.replaceAll('_', '-')}`,
      title: statusTitle(this.status),
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      code: this.code,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const badRequest = (detail: string, errors?: FieldProblem[]) =>
  new AppError(400, 'validation_failed', detail, errors ? { errors } : {});
export const unauthorized = (detail = 'Authentication is required.', code = 'unauthorized') =>
  new AppError(401, code, detail, { headers: { 'www-authenticate': 'Bearer' } });
export const forbidden = (detail = 'You are not allowed to do this.') =>
  new AppError(403, 'forbidden', detail);
export const notFound = (detail = 'The resource does not exist.') => new AppError(404, 'not_found', detail);
export const conflict = (detail: string, code = 'conflict') => new AppError(409, code, detail);
export const payloadTooLarge = (detail: string) => new AppError(413, 'payload_too_large', detail);
/** Seconds a client is asked to wait before retrying a 503: outages worth a 503 are short or need a person. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/** `cause`: what failed underneath (a driver's error), for the log; the answer never shows it. */
export const unavailable = (detail = 'The service is temporarily unavailable.', cause?: unknown) =>
  new AppError(503, 'unavailable', detail, {
    headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
    ...(cause === undefined ? {} : { cause }),
  });
export const rateLimited = (retryAfterSeconds: number, detail = 'Too many requests; slow down.') =>
  new AppError(429, 'rate_limited', detail, { headers: { 'retry-after': String(retryAfterSeconds) } });
