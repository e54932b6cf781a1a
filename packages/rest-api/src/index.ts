// Public surface of @defenseclaw/rest-api.
export {};
