"""Generators f(β, r) on the host (no jax), except the differentiable toy used by gradient tests."""
