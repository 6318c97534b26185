//! Ollama native API client (NDJSON).
