// Public surface of @defenseclaw/supervisor.
export {};
