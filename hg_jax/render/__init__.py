"""Host-side rendering: scene descriptions in, images and exact ground-truth maps out. No jax here."""
