"""Small real HTTP servers on 127.0.0.1 speaking providers' protocols, for tests and benches."""
