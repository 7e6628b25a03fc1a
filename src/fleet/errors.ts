/**
 * Why unikitd refused or failed a request: a class per condition, each with a stable `code` and
 * the HTTP status the API answers with. Messages quote the bad value and say what to do next.
 */
export type FleetErrorCode =
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'AMBIGUOUS'
  | 'CONFLICT'
  | 'IN_USE'
  | 'INSUFFICIENT_MEMORY'
  | 'PORT_IN_USE'
  | 'BAD_IMAGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'QUOTA_EXCEEDED'
  | 'UNSIGNED_IMAGE'
  | 'DAEMON_RUNNING'
  | 'DAEMON_UNREACHABLE'
  | 'START_FAILED'
  | 'INTERNAL';

const HTTP: Record<FleetErrorCode, number> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  AMBIGUOUS: 409,
  CONFLICT: 409,
  IN_USE: 409,
  INSUFFICIENT_MEMORY: 409,
  PORT_IN_USE: 409,
  BAD_IMAGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  QUOTA_EXCEEDED: 409,
  UNSIGNED_IMAGE: 400,
  DAEMON_RUNNING: 409,
  DAEMON_UNREACHABLE: 503,
  START_FAILED: 500,
  INTERNAL: 500,
};

export class FleetError extends Error {
  readonly httpStatus: number;
  constructor(readonly code: FleetErrorCode, message: string, readonly field?: string) {
    super(message);
    this.name = 'FleetError';
    this.httpStatus = HTTP[code];
  }
}

/** A request field with a bad value: 400, naming the field. */
export class BadRequestError extends FleetError {
  constructor(field: string, message: string) {
    super('BAD_REQUEST', `${field}: ${message}`, field);
  }
}

export class NotFoundError extends FleetError {
  constructor(kind: 'image' | 'instance', ref: string) {
    super('NOT_FOUND', `no ${kind} ${JSON.stringify(ref)}: see \`unikit ${kind === 'image' ? 'images' : 'ps -a'}\``);
  }
}

export class AmbiguousError extends FleetError {
  constructor(kind: 'image' | 'instance', ref: string, count: number) {
    super('AMBIGUOUS', `${JSON.stringify(ref)} matches ${count} ${kind}s: give more of the id, or the name`);
  }
}

export class InsufficientMemoryError extends FleetError {
  constructor(message: string) {
    super('INSUFFICIENT_MEMORY', message);
  }
}

/** The shape of every error body the API returns. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
