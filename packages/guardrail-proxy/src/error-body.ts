import type { WireFormat } from './stream/types.ts';

// HTTP error answers in the caller's own format (spec 30 §B2/§B7): the OpenAI envelope for chat, Responses and
// every non-LLM route; the Anthropic envelope for /v1/messages. Messages never carry secrets or content.

/** The closed table of HTTP error codes the proxy answers with: status and error type per format. */
export const PROXY_HTTP_ERRORS = {
  invalid_api_key: { status: 401, openai: 'authentication_error', anthropic: 'authentication_error' },
  forbidden_host: { status: 403, openai: 'permission_error', anthropic: 'permission_error' },
  forbidden_origin: { status: 403, openai: 'permission_error', anthropic: 'permission_error' },
  not_found: { status: 404, openai: 'invalid_request_error', anthropic: 'not_found_error' },
  method_not_allowed: { status: 405, openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  request_too_large: { status: 413, openai: 'invalid_request_error', anthropic: 'request_too_large' },
  invalid_json: { status: 400, openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  invalid_request: { status: 400, openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  model_not_found: { status: 400, openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  unsupported_endpoint_for_provider: {
    status: 400,
    openai: 'invalid_request_error',
    anthropic: 'invalid_request_error',
  },
  provider_not_configured: { status: 503, openai: 'server_error', anthropic: 'api_error' },
  overloaded: { status: 503, openai: 'server_error', anthropic: 'overloaded_error' },
  upstream_unavailable: { status: 502, openai: 'upstream_error', anthropic: 'api_error' },
  upstream_address_refused: { status: 502, openai: 'upstream_error', anthropic: 'api_error' },
  upstream_response_too_large: { status: 502, openai: 'upstream_error', anthropic: 'api_error' },
  upstream_invalid_response: { status: 502, openai: 'upstream_error', anthropic: 'api_error' },
  upstream_timeout: { status: 504, openai: 'upstream_error', anthropic: 'api_error' },
  internal_error: { status: 500, openai: 'server_error', anthropic: 'api_error' },
} as const;

/** One proxy HTTP error code. */
export type ProxyHttpErrorCode = keyof typeof PROXY_HTTP_ERRORS;

/** Returns the HTTP status of an error code. */
export function statusOf(code: ProxyHttpErrorCode): number {
  return PROXY_HTTP_ERRORS[code].status;
}

/**
 * Renders an error body in the caller's format: OpenAI `{error:{message,type,param,code}}` or Anthropic
 * `{type:"error", error:{type,message}}`; both carry our `request_id`.
 */
export function errorBody(
  format: WireFormat,
  code: ProxyHttpErrorCode,
  message: string,
  requestId: string,
): string {
  const entry = PROXY_HTTP_ERRORS[code];
  if (format === 'anthropic-messages') {
    return JSON.stringify({
      type: 'error',
      error: { type: entry.anthropic, message },
      request_id: requestId,
      defenseclaw: { code },
    });
  }
  return JSON.stringify({
    error: { message, type: entry.openai, param: null, code },
    request_id: requestId,
  });
}
