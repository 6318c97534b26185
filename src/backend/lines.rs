//! Line splitting shared by the NDJSON and SSE decoders.
