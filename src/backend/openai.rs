//! OpenAI-compatible client (SSE).
