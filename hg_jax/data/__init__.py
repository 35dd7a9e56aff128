"""Real-data loaders in their published formats (numpy only, no jax)."""
