// Public surface of @defenseclaw/guardrail-proxy.
export {};
