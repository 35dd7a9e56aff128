"""hg_jax: hybrid gradient (Yang & Deng, CVPR 2020) for learning synthetic-data generators."""
__version__ = "0.1.0"
