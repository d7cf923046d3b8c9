"""What talks to SGLang: frontend programs, the per-question endpoint, the server's HTTP calls, warm-up, connect."""
