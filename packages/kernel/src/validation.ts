import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchema, FastifySchemaCompiler } from 'fastify';
import { holdsAtMost } from './value-count.ts';

const shared: Options = { removeAdditional: false, useDefaults: true, strict: false };

/**
 * Bodies with more values than this are not searched for every problem: collecting them all costs time in
 * proportion to the body (600 ms for a megabyte of bad array items), which anyone could send again and
 * again. Their first problem is reported instead; a body any real request sends is far smaller.
 */
export const ALL_PROBLEMS_MAX_VALUES = 2000;

function withFormats(options: Options): Ajv {
  const ajv = new Ajv({ ...shared, ...options });
  addFormats.default(ajv);
  return ajv;
}

/**
 * Bodies are JSON with real types, so a string where a number belongs is a 400, never silently coerced;
 * query strings, params and headers are text by nature and are coerced to the declared types.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<FastifySchema> {
  const firstProblem = withFormats({ coerceTypes: false, allErrors: false });
  const everyProblem = withFormats({ coerceTypes: false, allErrors: true });
  const coercing = withFormats({ coerceTypes: 'array', allErrors: true });
  return ({ schema, httpPart }) => {
    if (httpPart !== 'body') return coercing.compile(schema as object);
    return bodyValidator(firstProblem.compile(schema as object), () =>
      everyProblem.compile(schema as object),
    );
  };
}

/**
 * Stops at the first problem, and only for a body small enough lists them all, so a client sees at once
 * everything to fix in what it actually sends.
 */
function bodyValidator(first: ValidateFunction, compileEvery: () => ValidateFunction): ValidateFunction {
  let every: ValidateFunction | undefined;
  const validate = ((data: unknown) => {
    if (first(data)) {
      validate.errors = null;
      return true;
    }
    if (!holdsAtMost(data, ALL_PROBLEMS_MAX_VALUES)) {
      validate.errors = first.errors;
      return false;
    }
    every ??= compileEvery();
    every(data);
    validate.errors = every.errors ?? first.errors;
    return false;
  }) as ValidateFunction;
  validate.errors = null;
  return validate;
}
