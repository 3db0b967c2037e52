"""slack-dlp tooling: the CLI, the local stack, stand-ins and benchmarks. Never in a Lambda asset."""
